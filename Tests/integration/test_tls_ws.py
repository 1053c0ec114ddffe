"""TLS (mqtts) and MQTT-over-WebSocket listeners, with routing between them
and the plain TCP listener."""

import base64
import hashlib
import os
import socket
import ssl
import subprocess
import time

import pytest

import rawmqtt as R
from conftest import finish_broker, start_broker
from helpers import PahoClient, assert_serves
from test_cli_clients import Sub


@pytest.fixture(scope="module")
def multi(tmp_path_factory, tls_files):
    b = start_broker(tmp_path_factory, ws=True, tls=tls_files)
    b.cafile = tls_files[0]
    yield b
    finish_broker(b)


def read_until_closed(sock, timeout=10):
    """All bytes the peer sends until it closes; fails if it stays open."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail("connection still open after %ss (got %r)"
                        % (timeout, data[:64]))
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def tls_args(b):
    return ["-h", "127.0.0.1", "-p", str(b.tls_port), "--cafile", b.cafile]


# ------------------------------------------------------------------- TLS

@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_pub_over_tls_to_tcp_subscriber(multi, uid, version):
    topic = "tls/%s/cli" % uid
    with Sub(multi, [topic], qos=1, version=version) as s:
        s.wait_subscribed()
        r = subprocess.run(["mosquitto_pub"] + tls_args(multi) +
                           ["-V", version, "-q", "1", "-t", topic,
                            "-m", "secure"],
                           capture_output=True, timeout=15)
        assert r.returncode == 0, r
        assert s.messages(1) == [[topic, "1", "0", "secure"]]


def test_mosquitto_sub_over_tls_gets_retained(multi, uid):
    topic = "tls/%s/ret" % uid
    with R.RawClient(multi.host, multi.port) as p:
        p.connect("p-" + uid)
        p.publish_acked(topic, b"kept", qos=1, retain=True)
        r = subprocess.run(["mosquitto_sub"] + tls_args(multi) +
                           ["-t", topic, "-C", "1", "-W", "10", "-F",
                            "%t|%r|%p"], capture_output=True, timeout=20)
        assert r.returncode == 0, r
        assert r.stdout.decode().strip() == "%s|1|kept" % topic
        p.publish_acked(topic, b"", qos=1, retain=True)


@pytest.mark.parametrize("version", [4, 5])
def test_paho_over_tls(multi, uid, version):
    topic = "tls/%s/paho" % uid
    sub = PahoClient(multi, "s-" + uid, version=version, port=multi.tls_port,
                     tls_ca=multi.cafile)
    pub = PahoClient(multi, "p-" + uid, version=version, port=multi.tls_port,
                     tls_ca=multi.cafile)
    try:
        sub.connect()
        sub.subscribe(topic, qos=2)
        pub.connect()
        for q in (0, 1, 2):
            pub.publish(topic, b"q%d" % q, qos=q)
        assert [(m.payload, m.qos) for m in sub.get_n(3)] == [
            (b"q0", 0), (b"q1", 1), (b"q2", 2)]
    finally:
        sub.disconnect()
        pub.disconnect()


def test_tls_large_message(multi, uid):
    topic = "tls/%s/big" % uid
    payload = os.urandom(300_000)
    sub = PahoClient(multi, "s-" + uid, port=multi.tls_port,
                     tls_ca=multi.cafile)
    try:
        sub.connect()
        sub.subscribe(topic, qos=1)
        with R.RawClient(multi.host, multi.port) as p:
            p.connect("p-" + uid)
            p.publish_acked(topic, payload, qos=1)
        assert sub.get().payload == payload
    finally:
        sub.disconnect()


def test_plaintext_on_tls_port_is_rejected(multi, uid):
    with R.RawClient(multi.host, multi.tls_port) as c:
        try:
            c.send(R.connect("plain-" + uid, 4))
        except OSError:
            pass
        # Whatever comes back (a TLS alert at most) must not be a CONNACK,
        # and the connection must close.
        data = read_until_closed(c.sock)
        assert not data.startswith(b"\x20"), data
    assert_serves(multi)


def test_tls_handshake_then_silence_does_not_block_others(multi, uid):
    ctx = ssl.create_default_context(cafile=multi.cafile)
    s = socket.create_connection((multi.host, multi.tls_port), timeout=10)
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    try:
        assert_serves(multi)
        with R.RawClient(multi.host, multi.port) as c:
            c.connect("after-" + uid)
            c.disconnect()
    finally:
        t.close()


def test_raw_mqtt_over_tls(multi, uid):
    ctx = ssl.create_default_context(cafile=multi.cafile)
    with R.RawClient(multi.host, multi.tls_port, ssl_context=ctx) as c:
        ack = c.connect("rawtls-" + uid)
        assert ack.reason == 0
        c.subscribe(("tls/%s/raw" % uid, 1))
        c.publish_acked("tls/%s/raw" % uid, b"loop", qos=1)
        assert c.recv_publish().payload == b"loop"
        c.disconnect()


# -------------------------------------------------------------- WebSocket

@pytest.mark.parametrize("version", [4, 5])
def test_paho_websocket_roundtrip(multi, uid, version):
    topic = "ws/%s/paho" % uid
    sub = PahoClient(multi, "s-" + uid, version=version,
                     transport="websockets", port=multi.ws_port)
    pub = PahoClient(multi, "p-" + uid, version=version,
                     transport="websockets", port=multi.ws_port)
    try:
        sub.connect()
        sub.subscribe(topic, qos=2)
        pub.connect()
        for q in (0, 1, 2):
            pub.publish(topic, b"ws%d" % q, qos=q)
        assert [(m.payload, m.qos) for m in sub.get_n(3)] == [
            (b"ws0", 0), (b"ws1", 1), (b"ws2", 2)]
    finally:
        sub.disconnect()
        pub.disconnect()


def test_websocket_to_tcp_and_tls(multi, uid):
    topic = "ws/%s/x" % uid
    ws = PahoClient(multi, "ws-" + uid, transport="websockets",
                    port=multi.ws_port)
    tls = PahoClient(multi, "tls-" + uid, port=multi.tls_port,
                     tls_ca=multi.cafile)
    try:
        ws.connect()
        tls.connect()
        ws.subscribe(topic + "/to-ws", qos=1)
        tls.subscribe(topic + "/to-tls", qos=1)
        with R.RawClient(multi.host, multi.port) as tcp:
            tcp.connect("tcp-" + uid)
            tcp.subscribe((topic + "/to-tcp", 1))
            tcp.publish_acked(topic + "/to-ws", b"from-tcp")
            assert ws.get().payload == b"from-tcp"
            ws.publish(topic + "/to-tls", b"from-ws", qos=1)
            assert tls.get().payload == b"from-ws"
            tls.publish(topic + "/to-tcp", b"from-tls", qos=1)
            assert tcp.recv_publish().payload == b"from-tls"
    finally:
        ws.disconnect()
        tls.disconnect()


class RawWS:
    """Minimal RFC 6455 client: handshake, masked binary frames out,
    unmasked frames in.  All reads bounded."""

    def __init__(self, host, port, path="/mqtt", protocol="mqtt"):
        self.sock = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n" % (path, host, port, key))
        if protocol:
            req += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        self.sock.sendall((req + "\r\n").encode())
        head = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in head:
            assert time.monotonic() < deadline, head
            chunk = self.sock.recv(4096)
            assert chunk, "closed during handshake: %r" % head
            head += chunk
        head, self.rest = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = lines[0]
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.expected_accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
        ).digest()).decode()

    def send_frame(self, data, opcode=2, fin=True):
        first = (0x80 if fin else 0) | opcode
        n = len(data)
        if n < 126:
            hdr = bytes([first, 0x80 | n])
        elif n < 65536:
            hdr = bytes([first, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            hdr = bytes([first, 0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(hdr + mask + body)

    def _read(self, n, deadline):
        while len(self.rest) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise R.Closed("EOF")
            self.rest += chunk
        out, self.rest = self.rest[:n], self.rest[n:]
        return out

    def recv_bytes(self, n, timeout=10):
        """Collects n bytes of binary-frame payload (frames may split or
        join MQTT packets arbitrarily)."""
        deadline = time.monotonic() + timeout
        buf = getattr(self, "payload_buf", b"")
        while len(buf) < n:
            b0, b1 = self._read(2, deadline)
            ln = b1 & 0x7F
            if ln == 126:
                ln = int.from_bytes(self._read(2, deadline), "big")
            elif ln == 127:
                ln = int.from_bytes(self._read(8, deadline), "big")
            assert not b1 & 0x80, "server frames must not be masked"
            data = self._read(ln, deadline)
            if b0 & 0x0F in (0, 1, 2):
                assert b0 & 0x0F != 1, "MQTT must use binary frames"
                buf += data
        self.payload_buf = buf[n:]
        return buf[:n]

    def recv_packet(self, version=5, timeout=10):
        head = self.recv_bytes(2, timeout)
        lenbytes = head[1:]
        while lenbytes[-1] & 0x80:
            lenbytes += self.recv_bytes(1, timeout)
        length = R.Reader(lenbytes).vbi()
        body = self.recv_bytes(length, timeout)
        return R.Packet(head[0], body, version)

    def close(self):
        self.sock.close()


def test_websocket_handshake_and_framing(multi, uid):
    ws = RawWS(multi.host, multi.ws_port)
    try:
        assert " 101 " in ws.status + " ", ws.status
        assert ws.headers.get("upgrade", "").lower() == "websocket"
        assert ws.headers.get("sec-websocket-accept") == ws.expected_accept
        assert ws.headers.get("sec-websocket-protocol") == "mqtt"
        connect = R.connect("rawws-" + uid, 5)
        # One MQTT packet split over two frames (fragmented message) ...
        ws.send_frame(connect[:5], opcode=2, fin=False)
        ws.send_frame(connect[5:], opcode=0, fin=True)
        ack = ws.recv_packet()
        assert ack.type == R.CONNACK and ack.reason == 0, ack
        # ... and two MQTT packets in one frame.
        topic = "ws/%s/raw" % uid
        ws.send_frame(R.subscribe(1, [(topic, 1)], 5) +
                      R.publish(topic, b"framed", qos=1, pid=2, version=5))
        got = {}
        for _ in range(3):
            p = ws.recv_packet()
            got[p.name] = p
        assert got["SUBACK"].codes == [1]
        assert got["PUBACK"].pid == 2
        assert got["PUBLISH"].payload == b"framed"
        ws.send_frame(R.disconnect())
    finally:
        ws.close()
    assert_serves(multi)


def test_websocket_large_message(multi, uid):
    """A message over 64 KiB each way over WebSocket (64-bit frame
    lengths).  Kept modest: mosquitto 2.0 sends to WebSocket clients at only
    ~40 kB/s."""
    topic = "ws/%s/big" % uid
    payload = os.urandom(70_000)
    ws = RawWS(multi.host, multi.ws_port)
    pub = PahoClient(multi, "p-" + uid, transport="websockets",
                     port=multi.ws_port)
    try:
        ws.send_frame(R.connect("big-" + uid, 5))
        assert ws.recv_packet().type == R.CONNACK
        ws.send_frame(R.subscribe(1, [(topic, 1)], 5))
        assert ws.recv_packet().type == R.SUBACK
        with R.RawClient(multi.host, multi.port) as tcp:
            tcp.connect("tcp-" + uid)
            tcp.subscribe((topic, 1))
            pub.connect()
            pub.publish(topic, payload, qos=1)
            m = ws.recv_packet()
            assert m.type == R.PUBLISH and m.payload == payload
            ws.send_frame(R.puback(m.pid))
            assert tcp.recv_publish(timeout=10).payload == payload
            # and back: a large message published over raw WebSocket
            ws.send_frame(R.publish(topic, payload[::-1], qos=1, pid=7,
                                    version=5))
            got = {}
            for _ in range(2):
                p = ws.recv_packet()
                got[p.name] = p
            assert got["PUBACK"].pid == 7
            assert got["PUBLISH"].payload == payload[::-1]
            assert tcp.recv_publish(timeout=10).payload == payload[::-1]
    finally:
        pub.disconnect()
        ws.close()


def test_websocket_garbage_is_rejected(multi):
    s = socket.create_connection((multi.host, multi.ws_port), timeout=10)
    try:
        # A raw MQTT CONNECT instead of an HTTP upgrade (terminated like a
        # header block so an HTTP parser sees a complete, bogus request).
        s.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\r\n\r\n")
        data = read_until_closed(s)
        assert not data.startswith(b"\x20"), data
    finally:
        s.close()
    assert_serves(multi)

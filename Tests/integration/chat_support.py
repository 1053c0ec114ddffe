"""A one-region chat deployment for tests: a real redis-server (AOF on,
fsync always) and one or more `relay serve` nodes sharing it, a deployment
key made with relayctl, and paho clients speaking the device contract
(docs/protocol.md) with protobuf envelopes generated from proto/relay.proto
by Debian's protoc.

Every wait is bounded; readiness is awaited, never slept for."""

import importlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"


# Listening ports for the processes tests start come from below the kernel's
# ephemeral range (ip_local_port_range, 32768-60999 by default): a port taken
# from that range could be given to some process's outgoing connection (a
# relay's Redis, shipper or heartbeat client) before the listener binds it.
# Each test process walks its own slice of 20000-31999 and never hands a port
# out twice.
_PORT_FIRST, _PORT_COUNT = 20000, 12000
_port_next = [_PORT_FIRST + (os.getpid() * 997) % _PORT_COUNT]
_ports_given = set()


def free_port():
    for _ in range(_PORT_COUNT):
        port = _port_next[0]
        _port_next[0] = _PORT_FIRST + (port - _PORT_FIRST + 1) % _PORT_COUNT
        if port in _ports_given:
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise RuntimeError("no free port in %d-%d" % (_PORT_FIRST, _PORT_FIRST + _PORT_COUNT - 1))


_pb = None


def pb(workdir):
    """relay_pb2, generated once per run into workdir."""
    global _pb
    if _pb is None:
        out = os.path.join(workdir, "pb")
        os.makedirs(out, exist_ok=True)
        subprocess.run(["protoc", "--proto_path", os.path.join(ROOT, "proto"),
                        "--python_out", out, "relay.proto"], check=True, timeout=60)
        sys.path.insert(0, out)
        _pb = importlib.import_module("relay_pb2")
    return _pb


def bin_path(name):
    relay = os.environ["RELAY_BIN"]
    return os.path.join(os.path.dirname(relay), name)


class Process:
    """A child process whose stdout is watched for a ready line."""

    def __init__(self, cmd, workdir, name, ready=None, timeout=60):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        threading.Thread(target=self._pump, daemon=True).start()
        if ready:
            self.wait_for(ready, timeout)

    def _pump(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("%s did not print %r in %ss; log:\n%s"
                                         % (self.name, text, timeout, self.tail()))
                self.cond.wait(min(left, 0.5))

    def tail(self, n=60):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def start_redis(workdir, data_dir, port, name):
    """A redis-server on HOST:port with AOF (fsync always) in workdir/data_dir,
    returned once it answers PONG."""
    data = os.path.join(workdir, data_dir)
    os.makedirs(data, exist_ok=True)
    proc = Process(["redis-server", "--port", str(port), "--bind", HOST,
                    "--dir", data, "--save", "", "--appendonly", "yes",
                    "--appendfsync", "always"], workdir, name)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("%s did not start:\n%s" % (name, proc.tail()))
        time.sleep(0.05)  # polling a port that is not open yet, under a deadline


class Deployment:
    """redis-server + relay serve nodes + a deployment key."""

    def __init__(self, workdir, nodes=1, extra_args=()):
        self.workdir = str(workdir)
        self.keys = os.path.join(self.workdir, "keys")
        subprocess.run([bin_path("relayctl"), "keys", "init", "--dir", self.keys],
                       check=True, timeout=60, capture_output=True)
        self.redis_port = free_port()
        self.redis = self._start_redis()
        self.extra_args = list(extra_args)
        # The region's name (its settings file's, else "local"): devices' tokens name it as their home.
        self.name = "local"
        if "--config" in self.extra_args:
            with open(self.extra_args[self.extra_args.index("--config") + 1]) as f:
                self.name = json.load(f).get("name", "local")
        self.nodes = [self.start_node() for _ in range(nodes)]

    def _start_redis(self):
        return start_redis(self.workdir, "redis", self.redis_port, "redis-%d" % self.redis_port)

    def start_node(self, port=None):
        port = port or free_port()
        cmd = [os.environ["RELAY_BIN"], "serve", "--listen", "%s:%d" % (HOST, port),
               "--redis", "%s:%d" % (HOST, self.redis_port), "--key-dir", self.keys,
               "--threads", "2"] + self.extra_args
        node = Process(cmd, self.workdir, "relay-%d" % port, ready="listening on mqtt://")
        node.port = port
        return node

    def restart_node(self, index, sig=signal.SIGTERM):
        node = self.nodes[index]
        node.stop(sig)
        self.nodes[index] = self.start_node(node.port)

    def token(self, user, device, ttl=None):
        cmd = [bin_path("relayctl"), "token", "issue", "--user", user, "--device", device,
               "--home", self.name, "--key-dir", self.keys]
        if ttl:
            cmd += ["--ttl", ttl]
        out = subprocess.run(cmd, check=True, timeout=60, capture_output=True, text=True)
        return out.stdout.strip()

    def logs(self):
        return "\n".join("--- %s\n%s" % (p.name, p.tail()) for p in [self.redis] + self.nodes)

    def stop(self):
        for node in self.nodes:
            node.stop()
        self.redis.stop()


class Refused(Exception):
    """A PUBACK with a failure reason code."""

    def __init__(self, code):
        super().__init__("PUBACK reason code 0x%02X" % code)
        self.code = code


class Device:
    """A device on the contract: MQTT 5 (or 3.1.1) paho client with a token,
    subscribed to d/<device>/#, decoding what arrives."""

    def __init__(self, deployment, user, device, node=0, version=5, connect=True):
        self.deployment = deployment
        self.pb = pb(deployment.workdir)
        self.user, self.device = user, device
        self.version = version
        self.inbox = queue.Queue()
        self.acks = {}
        self.ack_cond = threading.Condition()
        self.connack = queue.Queue()
        self.subscribed = threading.Event()
        self.disconnects = queue.Queue()
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        kwargs = {"client_id": device, "protocol": protocol}
        if version != 5:
            kwargs["clean_session"] = False
        self.client = mqtt.Client(**kwargs)
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        self.client.username_pw_set(user, deployment.token(user, device))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = lambda *a, **k: self.subscribed.set()
        self.client.on_disconnect = lambda c, u, rc, *a: self.disconnects.put(rc)
        self.node = node
        if version == 5:
            record_puback_codes(self)
        if connect:
            self.connect()

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack.put(rc)
        if rc == 0:
            client.subscribe("d/%s/#" % self.device, qos=1)

    def _on_message(self, client, userdata, msg):
        self.inbox.put((msg.topic, msg.payload, msg.properties if self.version == 5 else None))

    def _on_publish(self, client, userdata, mid, *args):
        with self.ack_cond:
            self.acks[mid] = True
            self.ack_cond.notify_all()

    def connect(self, timeout=20, port=None):
        port = port or self.deployment.nodes[self.node].port
        if self.version == 5:
            self.client.connect(HOST, port, keepalive=30, clean_start=False)
        else:
            self.client.connect(HOST, port, keepalive=30)
        self.client.loop_start()
        rc = self.connack.get(timeout=timeout)
        assert rc == 0, "CONNACK %r for %s" % (rc, self.device)
        assert self.subscribed.wait(timeout), "no SUBACK for %s" % self.device

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()

    # ------------------------------------------------------------ sending
    def send(self, conversation, text, cmid=None, wait=True, timeout=20):
        send = self.pb.Send()
        send.client_message_id = cmid or uuid.uuid4().hex
        # A stand-in for real end-to-end encryption in tests: not plaintext.
        send.ciphertext = bytes(b ^ 0x5A for b in text.encode())
        info = self.client.publish("s/" + conversation, send.SerializeToString(), qos=1)
        if wait:
            self.wait_ack(info.mid, timeout)
            code = getattr(self, "puback_codes", {}).get(info.mid, 0)
            if code:
                raise Refused(code)
        return send.client_message_id

    def wait_ack(self, mid, timeout=20):
        deadline = time.monotonic() + timeout
        with self.ack_cond:
            while mid not in self.acks:
                left = deadline - time.monotonic()
                assert left > 0, "no PUBACK for mid %d" % mid
                self.ack_cond.wait(left)

    def request(self, method, timeout=20, **body):
        req = self.pb.Request()
        req.request_id = uuid.uuid4().hex
        for field, value in body.items():
            getattr(req, field).CopyFrom(value)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "d/%s/a" % self.device
        props.CorrelationData = req.request_id.encode()
        self.client.publish("q/" + method, req.SerializeToString(), qos=1, properties=props)
        deadline = time.monotonic() + timeout
        while True:
            topic, payload, properties = self.next(deadline - time.monotonic(), suffix="/a")
            resp = self.pb.Response()
            resp.ParseFromString(payload)
            if resp.request_id == req.request_id:
                return resp

    # ------------------------------------------------------------ receiving
    def next(self, timeout, suffix=None, skipped=None):
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: nothing on %s within the timeout" % (self.device, suffix or "d/#"))
            try:
                item = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if suffix is None or item[0].endswith(suffix):
                return item
            if skipped is not None:
                skipped.append(item)

    def messages(self, n, timeout=30):
        """The next n Deliveries, decoded (text recovered from the test cipher)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            topic, payload, _ = self.next(deadline - time.monotonic(), suffix="/m")
            d = self.pb.Delivery()
            d.ParseFromString(payload)
            out.append(d)
        return out

    def statuses(self, n, kind=None, timeout=30):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            topic, payload, _ = self.next(deadline - time.monotonic(), suffix="/s")
            s = self.pb.Status()
            s.ParseFromString(payload)
            if kind is None or s.kind == kind:
                out.append(s)
        return out


def direct(a, b):
    """The 1:1 conversation id of two users."""
    return "~".join(sorted([a, b]))


def unique_names():
    """name -> name-<tag>, one tag per test, so tests share a region safely."""
    tag = uuid.uuid4().hex[:8]
    return lambda name: "%s-%s" % (name, tag)


def text_of(delivery):
    return bytes(b ^ 0x5A for b in delivery.ciphertext).decode()


# ---------------------------------------------------------------- requests without waiting, PUBACK codes

def publish_request(device, method, **body):
    """Publishes a Request on q/<method> and returns its request id, without
    waiting for the answer (see await_response)."""
    req = device.pb.Request()
    req.request_id = uuid.uuid4().hex
    for field, value in body.items():
        getattr(req, field).CopyFrom(value)
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "d/%s/a" % device.device
    props.CorrelationData = req.request_id.encode()
    device.client.publish("q/" + method, req.SerializeToString(), qos=1, properties=props)
    return req.request_id


def await_responses(device, request_ids, timeout=20, skipped=None):
    """The Responses to request_ids, by id; what else arrives goes to skipped."""
    wanted = set(request_ids)
    out = {}
    deadline = time.monotonic() + timeout
    while wanted - set(out):
        _, payload, _ = device.next(deadline - time.monotonic(), suffix="/a", skipped=skipped)
        resp = device.pb.Response()
        resp.ParseFromString(payload)
        if resp.request_id in wanted:
            out[resp.request_id] = resp
    return out


def record_puback_codes(device):
    """Makes device.puback_codes map each PUBACKed mid to its MQTT 5 reason
    code. paho 1.6 parses the code but does not hand it to on_publish, so this
    reads it from the packet first (test-only: it relies on paho 1.6's
    _handle_pubackcomp)."""
    device.puback_codes = {}
    device.puback_reasons = {}
    original = device.client._handle_pubackcomp

    def handle(cmd):
        packet = device.client._in_packet["packet"]
        if cmd == "PUBACK" and len(packet) >= 2:
            mid = int.from_bytes(packet[:2], "big")
            with device.ack_cond:
                device.puback_codes[mid] = packet[2] if len(packet) > 2 else 0
                reason = puback_reason_string(bytes(packet[3:]))
                if reason is not None:
                    device.puback_reasons[mid] = reason
        return original(cmd)

    device.client._handle_pubackcomp = handle


def puback_reason_string(properties):
    """The Reason String (0x1F) in a PUBACK's property bytes (length first), or None."""
    length, shift, i = 0, 0, 0
    while i < len(properties):
        byte = properties[i]
        length |= (byte & 0x7F) << shift
        i += 1
        shift += 7
        if not byte & 0x80:
            break
    end = min(len(properties), i + length)
    while i < end:
        identifier = properties[i]
        i += 1
        if identifier in (0x1F, 0x26):
            size = int.from_bytes(properties[i:i + 2], "big")
            value = properties[i + 2:i + 2 + size].decode("utf-8", "replace")
            i += 2 + size
            if identifier == 0x1F:
                return value
            size = int.from_bytes(properties[i:i + 2], "big")  # a user property's value
            i += 2 + size
        else:
            return None  # no other property is allowed in a PUBACK
    return None

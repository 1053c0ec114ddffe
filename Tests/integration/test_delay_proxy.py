"""The delay proxy (`relayctl link proxy`) against a local echo server.

Asserts lower bounds only (a round trip takes at least the configured RTT),
never speed; bytes arrive intact and in order; `cut` closes open connections
and makes connects fail, `heal` restores them. Every wait is bounded.
"""

import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import free_port

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

HOST = "127.0.0.1"
WAIT = 20.0


def relayctl():
    return os.path.join(os.path.dirname(os.environ["RELAY_BIN"]), "relayctl")


class EchoServer:
    """Echoes every byte back, one thread per connection."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def close(self):
        self.sock.close()


@pytest.fixture
def proxy():
    echo = EchoServer()
    listen, control = free_port(), free_port()
    rtt = 100

    def start(rtt_ms=rtt, bandwidth=1_000_000, loss=0.0):
        p = subprocess.Popen(
            [relayctl(), "link", "proxy", "--listen", f"{HOST}:{listen}", "--to", f"{HOST}:{echo.port}",
             "--rtt", str(rtt_ms), "--bandwidth", str(bandwidth), "--loss", str(loss),
             "--control", f"{HOST}:{control}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(p)
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, p.stdout.readline()), daemon=True)
        reader.start()
        reader.join(WAIT)
        assert line[0] and "listening on" in line[0], f"proxy did not start: {p.stderr.read() if p.poll() is not None else 'timeout'}"
        return listen, control

    started = []
    yield start
    for p in started:
        p.terminate()
        try:
            p.wait(WAIT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(WAIT)
    echo.close()


def ctl(command, control, *extra):
    out = subprocess.run([relayctl(), "link", command, "--control", f"{HOST}:{control}", *extra],
                         capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def recv_exactly(sock, n):
    chunks, got = [], 0
    while got < n:
        data = sock.recv(min(65536, n - got))
        assert data, f"connection closed after {got} of {n} bytes"
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def connect(port):
    s = socket.create_connection((HOST, port), timeout=WAIT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def test_round_trip_takes_at_least_the_rtt(proxy):
    listen, _ = proxy(rtt_ms=100)
    with connect(listen) as s:
        recv_exactly(s, 0)
        for _ in range(3):
            t0 = time.monotonic()
            s.sendall(b"ping")
            assert recv_exactly(s, 4) == b"ping"
            assert time.monotonic() - t0 >= 0.100


def test_one_megabyte_arrives_intact_and_in_order(proxy):
    listen, _ = proxy(rtt_ms=20, bandwidth=200_000, loss=0.05)
    payload = os.urandom(1 << 20)
    with connect(listen) as s:
        sender = threading.Thread(target=s.sendall, args=(payload,), daemon=True)
        sender.start()
        echoed = recv_exactly(s, len(payload))
        sender.join(WAIT)
    assert echoed == payload


def test_bandwidth_is_a_lower_bound_on_transfer_time(proxy):
    # 256 KiB each way at 8000 kbit/s (1 MB/s): at least ~0.25 s one way.
    listen, _ = proxy(rtt_ms=0, bandwidth=8000)
    payload = os.urandom(256 << 10)
    with connect(listen) as s:
        t0 = time.monotonic()
        sender = threading.Thread(target=s.sendall, args=(payload,), daemon=True)
        sender.start()
        assert recv_exactly(s, len(payload)) == payload
        sender.join(WAIT)
        assert time.monotonic() - t0 >= 0.2


def test_cut_refuses_and_heal_restores(proxy):
    listen, control = proxy(rtt_ms=10)
    open_conn = connect(listen)
    open_conn.sendall(b"x")
    assert recv_exactly(open_conn, 1) == b"x"

    assert ctl("cut", control).startswith("ok cut")
    # The open connection is closed by the cut.
    open_conn.settimeout(WAIT)
    assert open_conn.recv(1) == b""
    open_conn.close()
    # New connections are refused.
    with pytest.raises(ConnectionRefusedError):
        connect(listen).close()
    status = json.loads(ctl("status", control))
    assert status["cut"] is True and status["openChannels"] == 0

    assert ctl("heal", control) == "ok healed"
    with connect(listen) as s:
        s.sendall(b"again")
        assert recv_exactly(s, 5) == b"again"


def test_set_changes_the_conditions(proxy):
    listen, control = proxy(rtt_ms=0)
    assert ctl("set", control, "--rtt", "150", "--loss", "0.01").startswith("ok")
    status = json.loads(ctl("status", control))
    assert status["rttMs"] == 150 and status["loss"] == 0.01
    with connect(listen) as s:
        t0 = time.monotonic()
        s.sendall(b"ping")
        assert recv_exactly(s, 4) == b"ping"
        assert time.monotonic() - t0 >= 0.150
    bad = subprocess.run([relayctl(), "link", "set", "--control", f"{HOST}:{control}", "--loss", "2"],
                         capture_output=True, text=True, timeout=WAIT)
    assert bad.returncode == 1 and "loss" in bad.stderr

"""Fixtures for the black-box integration suite.

Which broker runs is chosen by the environment:

  RELAY_BIN=/path/to/relay   runs `relay broker --listen ...` (the system
                             under test)
  BROKER=mosquitto           runs Debian's mosquitto 2.0 with a generated
                             config (to validate the tests themselves)

Tests marked `relay_only` assert behaviour the relay specifies but mosquitto
does not share; they are skipped with BROKER=mosquitto (set
ITEST_FORCE_RELAY_ONLY=1 to run them anyway and see how mosquitto differs).

Every broker is started on free ephemeral ports on 127.0.0.1; start-up waits
(bounded) for the broker to announce its listeners, never sleeps.  When a
test fails, the stderr/stdout of the brokers it used is attached to the
report.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

STARTUP_TIMEOUT = 60.0
HOST = "127.0.0.1"


def broker_kind():
    if os.environ.get("RELAY_BIN"):
        return "relay"
    if os.environ.get("BROKER", "").lower() == "mosquitto":
        return "mosquitto"
    return None


def free_port():
    # One source of ports for every test (chat_support.free_port: below the
    # ephemeral range, never handed out twice).
    from chat_support import free_port as shared_free_port
    return shared_free_port()


# Brokers alive right now, so failures can show their logs.
_ACTIVE = []


class Broker:
    """One broker process.  opts use the relay's CLI names with
    underscores: max_packet_size, receive_maximum, topic_alias_maximum,
    max_keep_alive, connect_timeout, max_queued_messages,
    max_outgoing_bytes, threads, log_level."""

    def __init__(self, workdir, ws=False, tls=None, **opts):
        self.kind = broker_kind()
        self.workdir = workdir
        self.opts = opts
        self.host = HOST
        self.port = free_port()
        self.ws_port = free_port() if ws else None
        self.tls = tls  # (certfile, keyfile) or None
        self.tls_port = free_port() if tls else None
        self.proc = None
        self.stdout_lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.stderr_path = os.path.join(workdir, "broker.%d.stderr" % self.port)
        self.crashed = None

    # ------------------------------------------------------------- command
    def _relay_cmd(self):
        cmd = [os.environ["RELAY_BIN"], "broker",
               "--listen", "%s:%d" % (HOST, self.port)]
        if self.ws_port:
            cmd += ["--ws-listen", "%s:%d" % (HOST, self.ws_port)]
        if self.tls_port:
            cmd += ["--tls-listen", "%s:%d" % (HOST, self.tls_port),
                    "--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        for k, v in self.opts.items():
            if v is None:
                continue
            cmd += ["--" + k.replace("_", "-"), str(v)]
        return cmd

    def _mosquitto_cmd(self):
        o = self.opts
        per_listener = []
        if "topic_alias_maximum" in o:
            per_listener.append("max_topic_alias %d" % o["topic_alias_maximum"])
        lines = ["allow_anonymous true", "persistence false",
                 "log_dest stderr", "log_type all",
                 "listener %d %s" % (self.port, HOST)] + per_listener
        if os.geteuid() == 0:
            # Otherwise mosquitto drops to user "mosquitto", which cannot
            # read the TLS files in pytest's private tmp dir.
            lines.insert(0, "user root")
        if self.ws_port:
            lines += ["listener %d %s" % (self.ws_port, HOST),
                      "protocol websockets"] + per_listener
        if self.tls_port:
            lines += ["listener %d %s" % (self.tls_port, HOST),
                      "certfile %s" % self.tls[0],
                      "keyfile %s" % self.tls[1]] + per_listener
        if "max_packet_size" in o:
            lines.append("max_packet_size %d" % o["max_packet_size"])
        if "receive_maximum" in o:
            # mosquitto has no separate knob for the CONNACK Receive
            # Maximum; its inflight limit is the nearest equivalent.
            lines.append("max_inflight_messages %d" % o["receive_maximum"])
        if "max_keep_alive" in o:
            lines.append("max_keepalive %d" % o["max_keep_alive"])
        if "max_queued_messages" in o:
            lines.append("max_queued_messages %d" % o["max_queued_messages"])
        # connect_timeout, max_outgoing_bytes, threads, log_level: no
        # mosquitto equivalent; tests relying on them are relay_only.
        conf = os.path.join(self.workdir, "mosquitto.%d.conf" % self.port)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return ["/usr/sbin/mosquitto", "-c", conf]

    # ------------------------------------------------------------ lifecycle
    def _expected_ready(self):
        """Substrings that must appear on stdout before the broker is
        considered ready."""
        if self.kind == "relay":
            exp = ["relay broker listening on mqtt://%s:%d" % (HOST, self.port)]
            if self.ws_port:
                exp.append("relay broker listening on ws://%s:%d"
                           % (HOST, self.ws_port))
            if self.tls_port:
                exp.append("relay broker listening on mqtts://%s:%d"
                           % (HOST, self.tls_port))
            return exp
        return [" running"]

    def _pump(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.stdout_lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def start(self):
        if self.kind == "relay":
            cmd = self._relay_cmd()
        elif self.kind == "mosquitto":
            cmd = self._mosquitto_cmd()
        else:
            pytest.skip("set RELAY_BIN=/path/to/relay or BROKER=mosquitto")
        self.cmd = cmd
        self._stderr = open(self.stderr_path, "wb")
        # mosquitto logs to stderr (its stdout is block-buffered when piped),
        # so for it both streams go through the pump.
        err = self._stderr if self.kind == "relay" else subprocess.STDOUT
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=err, stdin=subprocess.DEVNULL)
        _ACTIVE.append(self)
        threading.Thread(target=self._pump, daemon=True).start()
        expected = self._expected_ready()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        status = None
        with self._cond:
            while status is None:
                text = "\n".join(self.stdout_lines)
                if all(e in text for e in expected):
                    status = "ready"
                elif self._eof or self.proc.poll() is not None:
                    status = "exited"
                elif time.monotonic() >= deadline:
                    status = "timeout"
                else:
                    self._cond.wait(max(0.0, deadline - time.monotonic()))
        if status == "exited":
            self.stop()
            pytest.fail("broker exited during start-up (%r):\n%s"
                        % (cmd, self.logs()))
        if status == "timeout":
            self.stop()
            pytest.fail("broker did not announce %r within %ds:\n%s"
                        % (expected, STARTUP_TIMEOUT, self.logs()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is not None and self.crashed is None:
            self.crashed = self.proc.returncode
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        try:
            self.proc.stdout.close()
        except Exception:
            pass
        self._stderr.close()
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def logs(self, tail=80):
        try:
            with open(self.stderr_path, "rb") as f:
                err = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            err = []
        with self._cond:
            out = list(self.stdout_lines)
        return ("--- %s stderr (last %d lines)\n%s\n--- stdout (last %d lines)"
                "\n%s" % (self.kind, tail, "\n".join(err[-tail:]), tail,
                          "\n".join(out[-tail:])))

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # convenience for clients
    @property
    def addr(self):
        return (self.host, self.port)


def start_broker(tmp_path_factory, **kw):
    workdir = str(tmp_path_factory.mktemp("broker"))
    return Broker(workdir, **kw).start()


def finish_broker(b):
    b.stop()
    if b.crashed is not None:
        pytest.fail("broker died during the tests (exit %r):\n%s"
                    % (b.crashed, b.logs()))


# ------------------------------------------------------------------ hooks

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "relay_only: behaviour specified for the relay that "
        "mosquitto does not share; skipped with BROKER=mosquitto")


def pytest_collection_modifyitems(config, items):
    kind = broker_kind()
    if kind is None:
        skip = pytest.mark.skip(
            reason="set RELAY_BIN=/path/to/relay or BROKER=mosquitto")
        for it in items:
            it.add_marker(skip)
        return
    if kind == "relay":
        path = os.environ["RELAY_BIN"]
        if not os.access(path, os.X_OK):
            raise pytest.UsageError("RELAY_BIN=%s is not an executable" % path)
    if kind != "relay" and not os.environ.get("ITEST_FORCE_RELAY_ONLY"):
        skip = pytest.mark.skip(reason="relay_only (running against %s)" % kind)
        for it in items:
            if "relay_only" in it.keywords:
                it.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in list(_ACTIVE):
            rep.sections.append(("broker %s :%d" % (b.kind, b.port), b.logs()))


# --------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A broker with default settings, shared by a test module."""
    b = start_broker(tmp_path_factory)
    yield b
    finish_broker(b)


@pytest.fixture
def make_broker(tmp_path_factory):
    """Factory for a broker with specific options, torn down after the
    test: make_broker(max_packet_size=1000, ws=True, ...)."""
    made = []

    def make(**kw):
        b = start_broker(tmp_path_factory, **kw)
        made.append(b)
        return b

    yield make
    for b in made:
        finish_broker(b)


@pytest.fixture
def uid():
    """A unique token for client ids and topics of one test."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate/key for 127.0.0.1 / localhost."""
    d = str(tmp_path_factory.mktemp("tls"))
    cert = os.path.join(d, "cert.pem")
    key = os.path.join(d, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True, timeout=60)
    return cert, key

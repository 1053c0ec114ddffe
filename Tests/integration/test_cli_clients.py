"""Interoperability with the stock mosquitto_pub / mosquitto_sub clients,
MQTT 3.1.1 and 5.0.

mosquitto_sub runs with -d so its stdout shows when the SUBACK arrived; the
publisher only starts after that, so no test relies on timing.  Every
subprocess has -W (mosquitto_sub's own timeout) and a subprocess timeout.
"""

import queue
import subprocess
import threading

import pytest

VERSIONS = ["mqttv311", "mqttv5"]
FMT = "MSG|%t|%q|%r|%p"


class Sub:
    """A running mosquitto_sub whose output is read by a thread."""

    def __init__(self, broker, topics, qos=0, count=1, version="mqttv5",
                 wait=10, fmt=FMT, extra=()):
        # stdbuf: mosquitto_sub block-buffers stdout when it is a pipe.
        cmd = ["stdbuf", "-oL", "mosquitto_sub",
               "-h", broker.host, "-p", str(broker.port),
               "-V", version, "-q", str(qos), "-C", str(count),
               "-W", str(wait), "-d", "-F", fmt] + list(extra)
        for t in topics:
            cmd += ["-t", t]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.lines = queue.Queue()
        self.all = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.all.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _next(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("mosquitto_sub silent for %ss; output:\n%s"
                                 % (timeout, "\n".join(self.all)))
        if line is None:
            raise AssertionError("mosquitto_sub exited (rc %r); output:\n%s"
                                 % (self.proc.wait(5), "\n".join(self.all)))
        return line

    def wait_subscribed(self, timeout=10):
        while "received SUBACK" not in self._next(timeout):
            pass

    def messages(self, n, timeout=10):
        out = []
        while len(out) < n:
            line = self._next(timeout)
            if line.startswith("MSG|"):
                out.append(line.split("|", 4)[1:])
        return out

    def finish(self, timeout=15):
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def pub(broker, topic, message=None, qos=0, version="mqttv5", retain=False,
        extra=(), stdin=None):
    cmd = ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port),
           "-V", version, "-q", str(qos), "-t", topic] + list(extra)
    if retain:
        cmd.append("-r")
    if message is None and stdin is None:
        cmd.append("-n")
    elif stdin is None:
        cmd += ["-m", message]
    else:
        cmd.append("-l")
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=15)
    assert r.returncode == 0, (cmd, r.stdout, r.stderr)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_pub_sub_each_qos(broker, uid, version, qos):
    topic = "cli/%s/q%d" % (uid, qos)
    with Sub(broker, [topic], qos=qos, version=version) as s:
        s.wait_subscribed()
        pub(broker, topic, "hello %d" % qos, qos=qos, version=version)
        assert s.messages(1) == [[topic, str(qos), "0", "hello %d" % qos]]
        assert s.finish() == 0


@pytest.mark.parametrize("pub_v,sub_v", [("mqttv311", "mqttv5"),
                                         ("mqttv5", "mqttv311")])
def test_cross_version_delivery(broker, uid, pub_v, sub_v):
    topic = "cli/%s/x" % uid
    with Sub(broker, [topic], qos=1, version=sub_v) as s:
        s.wait_subscribed()
        pub(broker, topic, "across", qos=1, version=pub_v)
        assert s.messages(1) == [[topic, "1", "0", "across"]]


def test_delivered_qos_is_min_of_publish_and_subscription(broker, uid):
    topic = "cli/%s/min" % uid
    with Sub(broker, [topic], qos=0) as s:
        s.wait_subscribed()
        pub(broker, topic, "q2-in", qos=2)
        assert s.messages(1) == [[topic, "0", "0", "q2-in"]]
    with Sub(broker, [topic], qos=2) as s:
        s.wait_subscribed()
        pub(broker, topic, "q1-in", qos=1)
        assert s.messages(1) == [[topic, "1", "0", "q1-in"]]


@pytest.mark.parametrize("version", VERSIONS)
def test_many_messages_in_order_with_count(broker, uid, version):
    topic = "cli/%s/many" % uid
    lines = ["m%02d" % i for i in range(20)]
    with Sub(broker, [topic], qos=1, count=len(lines), version=version) as s:
        s.wait_subscribed()
        pub(broker, topic, qos=1, version=version,
            stdin=("\n".join(lines) + "\n").encode())
        got = s.messages(len(lines))
        assert [m[3] for m in got] == lines
        assert s.finish() == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_retained_set_replace_clear(broker, uid, version):
    topic = "cli/%s/ret" % uid
    pub(broker, topic, "first", qos=1, retain=True, version=version)
    with Sub(broker, [topic], version=version) as s:
        assert s.messages(1) == [[topic, "0", "1", "first"]]
    pub(broker, topic, "second", qos=1, retain=True, version=version)
    with Sub(broker, [topic], qos=1, version=version) as s:
        assert s.messages(1) == [[topic, "1", "1", "second"]]
    # An empty retained payload clears it: a new subscriber's first
    # message is then the next live one, without the retain flag.
    pub(broker, topic, None, qos=1, retain=True, version=version)
    with Sub(broker, [topic], qos=1, version=version) as s:
        s.wait_subscribed()
        pub(broker, topic, "live", qos=1, version=version)
        assert s.messages(1) == [[topic, "1", "0", "live"]]


def test_live_message_to_existing_subscriber_has_retain_clear(broker, uid):
    topic = "cli/%s/ret-live" % uid
    with Sub(broker, [topic], qos=1) as s:
        s.wait_subscribed()
        pub(broker, topic, "r", qos=1, retain=True)
        # MQTT-3.3.1-9 (3.1.1) / RAP=0 (v5): retain flag cleared for
        # messages forwarded to established subscriptions.
        assert s.messages(1) == [[topic, "1", "0", "r"]]
    pub(broker, topic, None, retain=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_wildcard_subscriptions(broker, uid, version):
    base = "cli/%s" % uid
    with Sub(broker, [base + "/+/c", base + "/x/#"], qos=1, count=3,
             version=version) as s:
        s.wait_subscribed()
        pub(broker, base + "/b/c", "plus", qos=1, version=version)
        pub(broker, base + "/b/d", "nomatch", qos=1, version=version)
        pub(broker, base + "/x", "hash-parent", qos=1, version=version)
        pub(broker, base + "/x/y/z", "hash-deep", qos=1, version=version)
        got = sorted(m[3] for m in s.messages(3))
        assert got == ["hash-deep", "hash-parent", "plus"]
        assert s.finish() == 0


def test_v5_properties_through_cli(broker, uid):
    topic = "cli/%s/props" % uid
    fmt = "MSG|%t|%C|%P|%p"
    with Sub(broker, [topic], qos=1, fmt=fmt) as s:
        s.wait_subscribed()
        pub(broker, topic, "with-props", qos=1,
            extra=["-D", "publish", "content-type", "text/plain",
                   "-D", "publish", "user-property", "k1", "v1"])
        [m] = s.messages(1)
        assert m == [topic, "text/plain", "k1:v1", "with-props"]


# ------------------------------------------------------------ process

def test_sigterm_stops_broker_and_closes_clients(tmp_path_factory, uid):
    import signal
    import socket
    import rawmqtt as R
    from conftest import start_broker
    b = start_broker(tmp_path_factory)
    try:
        c = R.RawClient(b.host, b.port, version=4)
        c.connect("term-" + uid)
        b.proc.send_signal(signal.SIGTERM)
        b.proc.wait(10)
        assert c.wait_closed(5) == []
        c.close()
        with pytest.raises(OSError):
            socket.create_connection((b.host, b.port), timeout=5).close()
    finally:
        b.stop()


@pytest.mark.relay_only
def test_threads_and_log_level_options(make_broker):
    from helpers import assert_serves
    b = make_broker(threads=2, log_level="debug")
    assert_serves(b)
    assert_serves(b, version=5)

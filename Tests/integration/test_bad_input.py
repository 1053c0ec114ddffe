"""Bad-input catalogue: hand-made broken packets on raw sockets.

Each case is run twice:
  * test_rejected_and_still_serving (both brokers): the connection is
    closed within a bound, anything sent before the close is an error
    CONNACK/DISCONNECT, and the broker still routes a normal message
    between two other clients afterwards.
  * test_exact_response: the exact bytes the relay specifies (MQTT 5:
    DISCONNECT with the reason code, then close; 3.1.1: close, no
    response).  Cases where mosquitto answers differently are relay_only.

Timing cases (connect timeout, trickle, slow reader) are at the end.
"""

import socket
import threading
import time

import pytest

import rawmqtt as R
from conftest import finish_broker, start_broker
from helpers import assert_serves

CONNECT_TIMEOUT = 1
MAX_PACKET = 8192


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    b = start_broker(tmp_path_factory, connect_timeout=CONNECT_TIMEOUT,
                     max_packet_size=MAX_PACKET)
    yield b
    finish_broker(b)


relay_only = pytest.mark.relay_only


def D(reason):
    """Expected: a DISCONNECT with this reason, then close."""
    return ("DISCONNECT", reason)


def C(reason):
    """Expected: a CONNACK with this reason, then close."""
    return ("CONNACK", reason)


CLOSE = ()  # expected: closed, nothing sent

STRICT = "strict"  # exact response is relay-specific (relay_only there)
ALL = "all"        # mosquitto doesn't even reject it: relay_only in both


def publish_raw(topic_bytes, version, qos=0, first=None, payload=b"x"):
    """PUBLISH with arbitrary topic bytes (no UTF-8 validation)."""
    body = R.u16(len(topic_bytes)) + topic_bytes
    if qos:
        body += R.u16(1)
    if version == 5:
        body += b"\x00"
    return R.packet(first if first is not None else 0x30 | (qos << 1),
                    body + payload)


def subscribe_raw(filter_bytes, version, flags=0x02, opts=0):
    body = R.u16(1)
    if version == 5:
        body += b"\x00"
    body += R.u16(len(filter_bytes)) + filter_bytes + bytes([opts])
    return R.packet(0x80 | flags, body)


def connect_level(level, name=b"MQTT", client_id=None):
    vh = R.mqtt_str(name) + bytes([level, 0x02]) + R.u16(60)
    if level == 5:
        vh += b"\x00"
    return R.packet(0x10, vh + R.mqtt_str(client_id or "lvl-%d" % level))


def truncated_publish(version):
    # Remaining Length 8, but the topic length field claims 50 bytes.
    return b"\x30\x08" + R.u16(50) + b"abcdef"


# Each case: id, version to CONNECT with first (None: send the bytes as the
# first thing on the connection), the bytes, the exact expected outcome (a
# list gives alternatives), and where mosquitto differs (STRICT / ALL).
CASES = [
    # ------------------------------------------------- before CONNECT
    ("publish-before-connect", None, publish_raw(b"a/b", 4), CLOSE, ()),
    ("subscribe-before-connect", None, subscribe_raw(b"a/b", 4), CLOSE, ()),
    ("pingreq-before-connect", None, R.pingreq(), CLOSE, ()),
    ("vbi-5-bytes-before-connect", None, b"\x10\xff\xff\xff\xff\x7f",
     CLOSE, ()),
    ("connect-level-7", None, connect_level(7), C(0x01), ()),
    # MQTT 3.1 is "MQIsdp" level 3 (both brokers accept it: test_mqtt_spec);
    # the name goes with that level only, and its client identifiers are
    # 1 to 23 characters (return code 2 otherwise; mosquitto 2.0.11 accepts
    # longer ones).
    ("connect-level-4-MQIsdp", None, connect_level(4, b"MQIsdp"), C(0x01),
     ()),
    ("connect-level-3-MQTT", None, connect_level(3), C(0x01), ()),
    ("connect-level-3-MQIsdp-id-24", None,
     connect_level(3, b"MQIsdp", "x" * 24), C(0x02), ALL),
    ("connect-level-0", None, connect_level(0), C(0x01), ()),
    # CONNECT flags bit 0 is reserved; a v5 server may say 0x81 first.
    ("v5-connect-reserved-flag", None,
     R.packet(0x10, R.mqtt_str("MQTT") + b"\x05\x03" + R.u16(60) + b"\x00"
              + R.mqtt_str("rsv")), [C(0x81), CLOSE], ()),
    ("v4-connect-reserved-flag", None,
     R.packet(0x10, R.mqtt_str("MQTT") + b"\x04\x03" + R.u16(60)
              + R.mqtt_str("rsv")), CLOSE, ()),
    ("v5-connect-will-qos3", None,
     R.packet(0x10, R.mqtt_str("MQTT") + b"\x05\x1e" + R.u16(60) + b"\x00"
              + R.mqtt_str("wq3") + b"\x00" + R.mqtt_str("w") + R.u16(0)),
     [C(0x81), CLOSE], ()),
    # ----------------------------------------------- after CONNECT, v5
    # mosquitto closes without DISCONNECT here.
    ("v5-vbi-5-bytes", 5, b"\x30\xff\xff\xff\xff\x7f", D(0x81), STRICT),
    ("v5-truncated-publish", 5, truncated_publish(5), D(0x81), ()),
    # mosquitto 2.0.11 answers a PINGREQ with reserved flags with PINGRESP.
    ("v5-pingreq-flags", 5, b"\xc1\x00", D(0x81), ALL),
    ("v5-subscribe-flags-0", 5, subscribe_raw(b"a/b", 5, flags=0), D(0x81),
     ()),
    ("v5-publish-qos3", 5, publish_raw(b"a/b", 5, first=0x36), D(0x81),
     ()),
    ("v5-topic-invalid-utf8", 5, publish_raw(b"a/\xc3\x28", 5), D(0x81),
     ()),
    ("v5-topic-nul", 5, publish_raw(b"a/\x00b", 5), D(0x81), ()),
    ("v5-filter-invalid-utf8", 5, subscribe_raw(b"a/\xc3\x28", 5), D(0x81),
     ()),
    # mosquitto closes without DISCONNECT here.
    ("v5-second-connect", 5, R.connect("again", 5), D(0x82), STRICT),
    # mosquitto says 0x82 (protocol error) rather than 0x90 (topic invalid).
    ("v5-wildcard-in-publish-topic", 5, publish_raw(b"a/+/b", 5), D(0x90),
     STRICT),
    ("v5-hash-in-publish-topic", 5, publish_raw(b"a/#", 5, qos=1), D(0x90),
     STRICT),
    ("v5-oversize-publish", 5, R.publish("big", b"B" * (MAX_PACKET + 100),
                                         version=5), D(0x95), ()),
    ("v5-reserved-type-0", 5, b"\x00\x00", [D(0x81), D(0x82)],
     ()),
    ("v5-subscribe-no-filters", 5, R.packet(0x82, R.u16(1) + b"\x00"),
     [D(0x81), D(0x82)], ()),
    # --------------------------------------------- after CONNECT, 3.1.1
    ("v4-vbi-5-bytes", 4, b"\x30\xff\xff\xff\xff\x7f", CLOSE, ()),
    ("v4-truncated-publish", 4, truncated_publish(4), CLOSE, ()),
    ("v4-pingreq-flags", 4, b"\xc1\x00", CLOSE, ALL),
    ("v4-subscribe-flags-0", 4, subscribe_raw(b"a/b", 4, flags=0), CLOSE,
     ()),
    ("v4-topic-invalid-utf8", 4, publish_raw(b"a/\xc3\x28", 4), CLOSE, ()),
    ("v4-topic-nul", 4, publish_raw(b"a/\x00b", 4), CLOSE, ()),
    ("v4-second-connect", 4, R.connect("again", 4), CLOSE, ()),
    ("v4-wildcard-in-publish-topic", 4, publish_raw(b"a/+/b", 4), CLOSE,
     ()),
    ("v4-oversize-publish", 4, R.publish("big", b"B" * (MAX_PACKET + 100),
                                         version=4), CLOSE, ()),
]


def _params(strict):
    out = []
    for name, version, data, expected, differs in CASES:
        marked = differs == ALL or (strict and differs == STRICT)
        out.append(pytest.param(version, data, expected, id=name,
                                marks=[relay_only] if marked else []))
    return out


def _run_case(b, uid, version, data, half_close=False):
    c = R.RawClient(b.host, b.port, version=version or 4)
    try:
        if version is not None:
            c.connect("bad-%s" % uid)
        try:
            c.send(data)
            if half_close:
                c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the broker may close while we are still sending
        return c.wait_closed(5)
    finally:
        c.close()


def _outcome(got):
    return tuple((p.name, p.reason) for p in got)


@pytest.mark.parametrize("version,data,expected", _params(strict=False))
def test_rejected_and_still_serving(bad, uid, version, data, expected):
    got = _run_case(bad, uid, version, data)
    for p in got:
        assert p.type in (R.CONNACK, R.DISCONNECT), got
        assert p.reason != 0, got
    assert len(got) <= 1, got
    assert_serves(bad)
    assert_serves(bad, version=5)


@pytest.mark.parametrize("version,data,expected", _params(strict=True))
def test_exact_response(bad, uid, version, data, expected):
    got = _outcome(_run_case(bad, uid, version, data))
    alternatives = expected if isinstance(expected, list) else [expected]
    alternatives = [a if a == CLOSE else (a,) for a in alternatives]
    assert got in alternatives, "got %r, want one of %r" % (got, alternatives)
    assert_serves(bad)


def test_connack_bytes_for_unknown_level(bad):
    """The exact CONNACK for an unsupported level: 20 02 00 01."""
    with R.RawClient(bad.host, bad.port) as c:
        c.send(connect_level(7))
        deadline = time.monotonic() + 5
        while len(c.buf) < 4:
            c._fill(deadline)
        assert bytes(c.buf[:4]) == b"\x20\x02\x00\x01"
        c.wait_closed(5)


@pytest.mark.parametrize("cut", [1, 2, 5, 12])
def test_truncated_connect_then_eof(bad, cut):
    """A CONNECT cut short followed by EOF: the broker just drops it."""
    data = R.connect("truncated", 5)[:cut]
    got = _run_case(bad, "", None, data, half_close=True)
    assert got == [], got
    assert_serves(bad)


def test_many_bad_connections_in_a_row(bad):
    for i in range(30):
        c = R.RawClient(bad.host, bad.port)
        try:
            c.send(b"\x10\xff\xff\xff\xff\x7f" if i % 2 else b"\xc1\x00")
            c.wait_closed(5)
        except OSError:
            pass
        finally:
            c.close()
    assert_serves(bad)


# ------------------------------------------------------------ timing cases

@relay_only
def test_never_sends_connect_is_closed_at_connect_timeout(bad):
    with R.RawClient(bad.host, bad.port) as c:
        t0 = time.monotonic()
        got = c.wait_closed(CONNECT_TIMEOUT + 4)
        elapsed = time.monotonic() - t0
        assert got == []
        assert CONNECT_TIMEOUT * 0.8 <= elapsed <= CONNECT_TIMEOUT + 2, elapsed
    assert_serves(bad)


@relay_only
def test_trickled_connect_is_closed_at_connect_timeout(make_broker):
    b = make_broker(connect_timeout=2)
    data = R.connect("trickle-" + "x" * 40, 5)
    with R.RawClient(b.host, b.port) as c:
        t0 = time.monotonic()
        sent = 0
        closed = False
        while sent < len(data) and time.monotonic() - t0 < 10:
            try:
                c.send(data[sent:sent + 1])
            except OSError:
                closed = True
                break
            sent += 1
            # One byte per second: waiting up to 1 s for the close is the
            # pacing, so no sleep is needed.
            if not c.is_open(1.0):
                closed = True
                break
        elapsed = time.monotonic() - t0
        assert closed, "still open after trickling %d bytes" % sent
        assert sent < len(data)
        assert elapsed <= 2 + 2.5, elapsed
    assert_serves(b)


def _slow_reader_scenario(b, uid, total_bytes=24 << 20, chunk=64 << 10):
    """A subscriber with a tiny receive buffer never reads while another
    client floods its topic.  Returns (slow_client, rss_growth_kb); asserts
    that other sessions keep flowing meanwhile."""
    topic = "flood/%s" % uid
    slow = R.RawClient(b.host, b.port, version=4, rcvbuf=4096)
    slow.connect("slow-" + uid)
    slow.subscribe((topic, 0))
    rss0 = b.rss_kb()
    peak = [rss0]
    stop = threading.Event()

    def watch():
        while not stop.wait(0.1):
            try:
                peak[0] = max(peak[0], b.rss_kb())
            except OSError:
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with R.RawClient(b.host, b.port, version=4) as pub, \
                R.RawClient(b.host, b.port, version=4) as a, \
                R.RawClient(b.host, b.port, version=4) as z:
            pub.connect("flood-" + uid)
            a.connect("a-" + uid)
            z.connect("z-" + uid)
            z.subscribe(("side/%s" % uid, 1))
            blob = b"F" * chunk
            for i in range(total_bytes // chunk):
                pub.publish_acked(topic, blob, qos=1, timeout=10)
                if i % 64 == 0:
                    # A separate conversation keeps flowing during the flood.
                    a.publish_acked("side/%s" % uid, b"%d" % i, qos=1,
                                    timeout=10)
                    m = z.recv_publish(timeout=10)
                    assert m.payload == b"%d" % i
        assert_serves(b)
    finally:
        stop.set()
        watcher.join(5)
    return slow, peak[0] - rss0


def test_slow_reader_does_not_stall_others(make_broker, uid):
    b = make_broker(max_outgoing_bytes=262144)
    slow, growth_kb = _slow_reader_scenario(b, uid)
    slow.close()
    assert growth_kb < 300 * 1024, "RSS grew by %d MB" % (growth_kb // 1024)


@relay_only
def test_slow_reader_is_disconnected(make_broker, uid):
    b = make_broker(max_outgoing_bytes=262144)
    slow, growth_kb = _slow_reader_scenario(b, uid)
    try:
        # Drain what the kernel and broker had already sent: it must end in
        # EOF (the broker dropped us), well before all 24 MB arrive.
        received = 0
        deadline = time.monotonic() + 20
        closed = False
        slow.sock.settimeout(2)
        while time.monotonic() < deadline:
            try:
                data = slow.sock.recv(1 << 20)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not data:
                closed = True
                break
            received += len(data)
        assert closed, "slow reader still connected after %d bytes" % received
        assert received < 20 << 20, received
    finally:
        slow.close()
    assert growth_kb < 300 * 1024, "RSS grew by %d MB" % (growth_kb // 1024)

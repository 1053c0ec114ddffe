"""MQTT 5 features, driven with paho-mqtt (and the raw client where a test
must see exact bytes: properties, flags, aliases, flow control).

Tests that need "nothing else arrived" use a marker message published after
the thing that must not be delivered: messages from one publisher are
delivered in order, so if the marker comes first, the other was not sent.
"""

import queue
import time

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.subscribeoptions import SubscribeOptions

import rawmqtt as R
from helpers import PahoClient, assert_serves, props

TUNED = dict(receive_maximum=10, max_packet_size=4096, topic_alias_maximum=8,
             max_keep_alive=30)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    from conftest import finish_broker, start_broker
    b = start_broker(tmp_path_factory, **TUNED)
    yield b
    finish_broker(b)


@pytest.fixture
def clients(broker):
    """Factory for connected paho v5 clients on the module broker."""
    made = []

    def make(client_id="", b=None, **kw):
        c = PahoClient(b or broker, client_id=client_id, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.disconnect()


def raw(b, version=5, **kw):
    return R.RawClient(b.host, b.port, version=version, **kw)


# ------------------------------------------------------------- CONNACK

def _flag_ok(p, pid):
    return p.get(pid, 1) == 1


def test_connack_advertises_server_limits(tuned):
    with raw(tuned) as c:
        ack = c.connect("", keepalive=100)
        p = ack.props
        assert not ack.session_present
        assert p.get(R.P_RECEIVE_MAXIMUM) == 10, ack
        assert p.get(R.P_MAXIMUM_PACKET_SIZE) == 4096, ack
        assert p.get(R.P_TOPIC_ALIAS_MAXIMUM) == 8, ack
        assert p.get(R.P_SERVER_KEEP_ALIVE) == 30, ack
        assert p.get(R.P_MAXIMUM_QOS, 2) == 2, ack
        for flag in (R.P_RETAIN_AVAILABLE, R.P_WILDCARD_SUB_AVAILABLE,
                     R.P_SHARED_SUB_AVAILABLE, R.P_SUB_ID_AVAILABLE):
            assert _flag_ok(p, flag), ("0x%02x" % flag, ack)
        assigned = p.get(R.P_ASSIGNED_CLIENT_ID)
        assert isinstance(assigned, str) and assigned, ack
        c.disconnect()


def test_keepalive_within_limit_and_named_client(tuned, uid):
    with raw(tuned) as c:
        ack = c.connect("named-" + uid, keepalive=20)
        assert ack.props.get(R.P_SERVER_KEEP_ALIVE, 20) == 20, ack
        assert R.P_ASSIGNED_CLIENT_ID not in ack.props, ack
        c.disconnect()


def test_assigned_client_ids_are_unique(broker):
    ids = set()
    for _ in range(3):
        with raw(broker) as c:
            ids.add(c.connect("").props[R.P_ASSIGNED_CLIENT_ID])
            c.disconnect()
    assert len(ids) == 3


@pytest.mark.relay_only
def test_connack_defaults(broker):
    with raw(broker) as c:
        ack = c.connect("", keepalive=60)
        assert ack.props.get(R.P_RECEIVE_MAXIMUM) == 256, ack
        assert ack.props.get(R.P_MAXIMUM_PACKET_SIZE) == 1048576, ack
        assert ack.props.get(R.P_TOPIC_ALIAS_MAXIMUM) == 64, ack
        assert R.P_SERVER_KEEP_ALIVE not in ack.props, ack
        c.disconnect()


def test_v311_empty_client_id(broker):
    with raw(broker, version=4) as c:
        ack = c.connect("", clean=True)
        assert ack.reason == 0
        c.disconnect()
    with raw(broker, version=4) as c:
        # 3.1.1 [MQTT-3.1.3-8]: empty id with CleanSession=0 -> 0x02.
        ack = c.connect("", clean=False, expect=None)
        assert ack.reason == 0x02, ack
        assert c.wait_closed(5) == []


# ------------------------------------------------------------ QoS / routing

@pytest.mark.parametrize("qos", [0, 1, 2])
def test_paho_qos_roundtrip(clients, uid, qos):
    topic = "p5/%s/q" % uid
    sub = clients("s-" + uid)
    sub.connect()
    assert [r.value for r in sub.subscribe(topic, qos=qos)] == [qos]
    pub = clients("p-" + uid)
    pub.connect()
    pub.publish(topic, b"payload-%d" % qos, qos=qos)
    m = sub.get()
    assert (m.topic, m.payload, m.qos, m.retain) == (
        topic, b"payload-%d" % qos, qos, False)


def test_raw_qos2_both_directions(broker, uid):
    topic = "p5/%s/q2raw" % uid
    with raw(broker) as sub, raw(broker) as pub:
        sub.connect("s-" + uid)
        assert sub.subscribe((topic, 2)).codes == [2]
        pub.connect("p-" + uid)
        pid = pub.publish(topic, b"exactly-once", qos=2)
        rec = pub.recv_type(R.PUBREC)
        assert rec.pid == pid and rec.reason == 0
        # The subscriber must not see it twice even if the publisher
        # retransmits the PUBLISH with DUP before PUBREL.
        pub.publish(topic, b"exactly-once", qos=2, pid=pid, dup=True)
        rec2 = pub.recv_type(R.PUBREC)
        assert rec2.pid == pid
        pub.send(R.pubrel(pid))
        assert pub.recv_type(R.PUBCOMP).pid == pid
        m = sub.recv(5)
        assert m.type == R.PUBLISH and m.qos == 2 and m.payload == b"exactly-once"
        sub.send(R.pubrec(m.pid))
        rel = sub.recv_type(R.PUBREL)
        assert rel.pid == m.pid
        sub.send(R.pubcomp(m.pid))
        # Marker: the next message is the marker, not a duplicate.
        pub.publish_acked(topic, b"marker", qos=1)
        m2 = sub.recv_publish()
        assert m2.payload == b"marker", m2


def test_wildcards(clients, uid):
    base = "w/%s" % uid
    sub = clients("s-" + uid)
    sub.connect()
    sub.subscribe(base + "/+/c", qos=1)
    sub.subscribe(base + "/x/#", qos=1)
    sub.subscribe(base + "/+", qos=1)
    pub = clients("p-" + uid)
    pub.connect()
    for t in ["/a/c", "/a/b/c", "/x", "/x/y/z", "/a/d", "/q"]:
        pub.publish(base + t, t.encode(), qos=1)
    pub.publish(base + "/end/c", b"end", qos=1)
    got = [m.payload for m in sub.get_n(5)]
    # /x matches both "x/#" and "+" (overlap): one or two copies allowed.
    assert got[0] == b"/a/c"
    assert b"/a/b/c" not in got and b"/a/d" not in got
    rest = got[1:]
    if rest.count(b"/x") == 2:
        rest.remove(b"/x")
        rest.append(sub.get().payload)
    assert rest == [b"/x", b"/x/y/z", b"/q", b"end"], got


def test_dollar_topics_not_matched_by_leading_wildcards(make_broker, uid):
    b = make_broker()
    hash_sub = PahoClient(b, "h-" + uid)
    plus_sub = PahoClient(b, "p-" + uid)
    exact = PahoClient(b, "e-" + uid)
    pub = PahoClient(b, "pub-" + uid)
    try:
        for c in (hash_sub, plus_sub, exact, pub):
            c.connect()
        hash_sub.subscribe("#", qos=1)
        plus_sub.subscribe("+/%s/x" % uid, qos=1)
        exact.subscribe("$app/%s/x" % uid, qos=1)
        pub.publish("$app/%s/x" % uid, b"dollar", qos=1)
        pub.publish("app/%s/x" % uid, b"normal", qos=1)
        assert exact.get().payload == b"dollar"
        m = hash_sub.get()
        assert (m.topic, m.payload) == ("app/%s/x" % uid, b"normal")
        m = plus_sub.get()
        assert (m.topic, m.payload) == ("app/%s/x" % uid, b"normal")
    finally:
        for c in (hash_sub, plus_sub, exact, pub):
            c.disconnect()


def test_unsubscribe_stops_delivery(clients, uid):
    t1, t2 = "u/%s/1" % uid, "u/%s/2" % uid
    sub = clients("s-" + uid)
    sub.connect()
    sub.subscribe(t1, qos=1)
    sub.subscribe(t2, qos=1)
    sub.unsubscribe(t1)
    pub = clients("p-" + uid)
    pub.connect()
    pub.publish(t1, b"gone", qos=1)
    pub.publish(t2, b"marker", qos=1)
    assert sub.get().payload == b"marker"


def test_shared_subscription_delivers_each_message_once(clients, uid):
    topic = "sh/%s/jobs" % uid
    members = []
    for i in range(3):
        c = clients("m%d-%s" % (i, uid))
        c.connect()
        c.subscribe("$share/g%s/sh/%s/#" % (uid, uid), qos=1)
        members.append(c)
    other = clients("o-" + uid)
    other.connect()
    other.subscribe("$share/h%s/%s" % (uid, topic), qos=1)
    plain = clients("pl-" + uid)
    plain.connect()
    plain.subscribe(topic, qos=1)
    pub = clients("p-" + uid)
    pub.connect()
    n = 30
    for i in range(n):
        pub.publish(topic, b"%d" % i, qos=1)
    # The plain subscriber and the single-member group see everything.
    assert [m.payload for m in plain.get_n(n)] == [b"%d" % i for i in range(n)]
    assert [m.payload for m in other.get_n(n)] == [b"%d" % i for i in range(n)]
    # The group as a whole sees each message exactly once.
    got = []
    deadline = time.monotonic() + 10
    while len(got) < n and time.monotonic() < deadline:
        for c in members:
            while not c.messages.empty():
                got.append(c.messages.get_nowait().payload)
        if len(got) < n:
            # bounded wait on any member for the rest
            for c in members:
                try:
                    got.append(c.messages.get(timeout=0.05).payload)
                except queue.Empty:
                    pass
    assert sorted(got, key=int) == [b"%d" % i for i in range(n)], got
    # Marker round: one more message reaches exactly one member, nothing
    # left over from before.
    pub.publish(topic, b"last", qos=1)
    plain.get_n(1)
    extra = []
    deadline = time.monotonic() + 5
    while not extra and time.monotonic() < deadline:
        for c in members:
            try:
                extra.append(c.messages.get(timeout=0.05).payload)
            except queue.Empty:
                pass
    assert extra == [b"last"], extra
    for c in members:
        c.expect_nothing(0.2)


def test_no_local(clients, uid):
    topic = "nl/%s" % uid
    me = clients("me-" + uid)
    me.connect()
    me.subscribe(topic, options=SubscribeOptions(qos=1, noLocal=True))
    me.publish(topic, b"own", qos=1)
    other = clients("o-" + uid)
    other.connect()
    other.publish(topic, b"theirs", qos=1)
    assert me.get().payload == b"theirs"
    # Control: without No Local the client receives its own message.
    ctl = clients("c-" + uid)
    ctl.connect()
    ctl.subscribe(topic + "/ctl", qos=1)
    ctl.publish(topic + "/ctl", b"own", qos=1)
    assert ctl.get().payload == b"own"


def test_retain_as_published(clients, uid):
    topic = "rap/%s" % uid
    keep = clients("k-" + uid)
    keep.connect()
    keep.subscribe(topic, options=SubscribeOptions(qos=1, retainAsPublished=True))
    clear = clients("c-" + uid)
    clear.connect()
    clear.subscribe(topic, options=SubscribeOptions(qos=1))
    pub = clients("p-" + uid)
    pub.connect()
    pub.publish(topic, b"r", qos=1, retain=True)
    pub.publish(topic, b"n", qos=1, retain=False)
    assert [(m.payload, m.retain) for m in keep.get_n(2)] == [
        (b"r", True), (b"n", False)]
    assert [(m.payload, m.retain) for m in clear.get_n(2)] == [
        (b"r", False), (b"n", False)]
    pub.publish(topic, b"", qos=1, retain=True)


def test_retain_handling(clients, uid):
    topic = "rh/%s" % uid
    pub = clients("p-" + uid)
    pub.connect()
    pub.publish(topic, b"stored", qos=1, retain=True)

    def first_after_subscribe(c, rh):
        c.subscribe(topic, options=SubscribeOptions(qos=1, retainHandling=rh))
        pub.publish(topic, b"marker", qos=1)
        m = c.get()
        if m.payload == b"stored":
            assert m.retain
            assert c.get().payload == b"marker"
            return "retained"
        assert m.payload == b"marker" and not m.retain
        return "marker"

    c0 = clients("c0-" + uid)
    c0.connect()
    assert first_after_subscribe(c0, 0) == "retained"
    assert first_after_subscribe(c0, 0) == "retained"  # again on resubscribe
    c1 = clients("c1-" + uid)
    c1.connect()
    assert first_after_subscribe(c1, 1) == "retained"  # new subscription
    assert first_after_subscribe(c1, 1) == "marker"    # already existed
    c2 = clients("c2-" + uid)
    c2.connect()
    assert first_after_subscribe(c2, 2) == "marker"
    pub.publish(topic, b"", qos=1, retain=True)


def test_subscription_identifiers(broker, uid):
    with raw(broker) as sub, raw(broker) as pub:
        ack = sub.connect("s-" + uid)
        assert _flag_ok(ack.props, R.P_SUB_ID_AVAILABLE)
        sub.subscribe(("si/%s/a" % uid, 1), props={R.P_SUBSCRIPTION_ID: 7})
        sub.subscribe(("si/%s/b/+" % uid, 1),
                      props={R.P_SUBSCRIPTION_ID: 200000})
        sub.subscribe(("si/%s/c" % uid, 1))
        pub.connect("p-" + uid)
        pub.publish_acked("si/%s/a" % uid, b"a")
        pub.publish_acked("si/%s/b/x" % uid, b"b")
        pub.publish_acked("si/%s/c" % uid, b"c")
        a, b, c = (sub.recv_publish() for _ in range(3))
        assert a.props.get(R.P_SUBSCRIPTION_ID) == [7], a
        assert b.props.get(R.P_SUBSCRIPTION_ID) == [200000], b
        assert R.P_SUBSCRIPTION_ID not in c.props, c


def test_publish_properties_carried_through(broker, uid):
    topic = "pr/%s" % uid
    sent = {
        R.P_PAYLOAD_FORMAT: 1,
        R.P_MESSAGE_EXPIRY: 120,
        R.P_CONTENT_TYPE: "application/json",
        R.P_RESPONSE_TOPIC: "pr/%s/reply" % uid,
        R.P_CORRELATION_DATA: b"\x00\xffcorr\x80",
        R.P_USER_PROPERTY: [("k", "v1"), ("a", "b"), ("k", "v2")],
    }
    with raw(broker) as sub, raw(broker) as pub:
        sub.connect("s-" + uid)
        sub.subscribe((topic, 1))
        pub.connect("p-" + uid)
        pub.publish_acked(topic, b'{"x": 1}', qos=1, props=sent)
        m = sub.recv_publish()
        got = m.props
        assert got[R.P_PAYLOAD_FORMAT] == 1
        assert 0 < got[R.P_MESSAGE_EXPIRY] <= 120
        assert got[R.P_CONTENT_TYPE] == "application/json"
        assert got[R.P_RESPONSE_TOPIC] == "pr/%s/reply" % uid
        assert got[R.P_CORRELATION_DATA] == b"\x00\xffcorr\x80"
        # Order of user properties is preserved [MQTT-3.3.2-18].
        assert got[R.P_USER_PROPERTY] == [("k", "v1"), ("a", "b"), ("k", "v2")]
        assert m.payload == b'{"x": 1}'


def test_properties_via_paho(clients, uid):
    topic = "pp/%s" % uid
    sub = clients("s-" + uid)
    sub.connect()
    sub.subscribe(topic, qos=1)
    pub = clients("p-" + uid)
    pub.connect()
    pub.publish(topic, b"x", qos=1, properties=props(
        UserProperty=[("who", "paho")], ContentType="text/plain",
        PayloadFormatIndicator=1, MessageExpiryInterval=300))
    m = sub.get()
    p = m.properties
    assert p.UserProperty == [("who", "paho")]
    assert p.ContentType == "text/plain"
    assert p.PayloadFormatIndicator == 1
    assert 0 < p.MessageExpiryInterval <= 300


def test_request_response(clients, uid):
    req_topic = "svc/%s/request" % uid
    resp_topic = "svc/%s/response/client1" % uid
    responder = clients("r-" + uid)

    def on_message(c, u, msg):
        rp = props(CorrelationData=msg.properties.CorrelationData)
        c.publish(msg.properties.ResponseTopic, b"re:" + msg.payload, 1,
                  properties=rp)

    responder.connect()
    responder.subscribe(req_topic, qos=1)
    responder.c.on_message = on_message
    requester = clients("q-" + uid)
    requester.connect()
    requester.subscribe(resp_topic, qos=1)
    for i in range(3):
        requester.publish(req_topic, b"ping%d" % i, qos=1, properties=props(
            ResponseTopic=resp_topic, CorrelationData=b"id-%d" % i))
    got = {m.properties.CorrelationData: m.payload
           for m in requester.get_n(3)}
    assert got == {b"id-%d" % i: b"re:ping%d" % i for i in range(3)}


# ------------------------------------------------------------ topic aliases

def test_client_to_server_topic_alias(tuned, uid):
    topic = "ta/%s/x" % uid
    other = "ta/%s/y" % uid
    with raw(tuned) as sub, raw(tuned) as pub:
        sub.connect("s-" + uid)
        sub.subscribe(("ta/%s/+" % uid, 1))
        pub.connect("p-" + uid)
        pub.publish_acked(topic, b"1", props={R.P_TOPIC_ALIAS: 1})
        pub.publish_acked("", b"2", props={R.P_TOPIC_ALIAS: 1})
        pub.publish_acked(other, b"3", props={R.P_TOPIC_ALIAS: 1})  # remap
        pub.publish_acked("", b"4", props={R.P_TOPIC_ALIAS: 1})
        pub.publish_acked(topic, b"5", props={R.P_TOPIC_ALIAS: 8})  # = max
        pub.publish_acked("", b"6", props={R.P_TOPIC_ALIAS: 8})
        got = [sub.recv_publish() for _ in range(6)]
        assert [(m.topic, m.payload) for m in got] == [
            (topic, b"1"), (topic, b"2"), (other, b"3"), (other, b"4"),
            (topic, b"5"), (topic, b"6")]
        for m in got:  # sub didn't allow aliases: none sent to it
            assert R.P_TOPIC_ALIAS not in m.props


# mosquitto answers alias 0 with 0x81 (malformed) rather than 0x94.
@pytest.mark.parametrize("alias", [pytest.param(0, marks=pytest.mark.relay_only),
                                   9])
def test_topic_alias_out_of_range(tuned, uid, alias):
    with raw(tuned) as c:
        c.connect("c-" + uid)
        c.publish("ta/%s" % uid, b"x", qos=1, props={R.P_TOPIC_ALIAS: alias})
        got = c.wait_closed(5)
        assert got and got[-1].type == R.DISCONNECT, got
        assert got[-1].reason == 0x94, got
    assert_serves(tuned)


def test_unknown_topic_alias_is_protocol_error(tuned, uid):
    with raw(tuned) as c:
        c.connect("c-" + uid)
        c.publish("", b"x", qos=1, props={R.P_TOPIC_ALIAS: 3})
        got = c.wait_closed(5)
        assert got and got[-1].type == R.DISCONNECT, got
        assert got[-1].reason in (0x82, 0x94), got
    assert_serves(tuned)


def test_server_to_client_topic_aliases_resolve(broker, uid):
    """If the server uses aliases towards a client that allows them, they
    must resolve to the right topic and stay within the client's limit."""
    topics = ["sa/%s/%d" % (uid, i) for i in range(3)]
    with raw(broker) as sub, raw(broker) as pub:
        sub.connect("s-" + uid, props={R.P_TOPIC_ALIAS_MAXIMUM: 2})
        sub.subscribe(("sa/%s/+" % uid, 1))
        pub.connect("p-" + uid)
        sent = []
        for rnd in range(3):
            for t in topics:
                payload = b"%s-%d" % (t.encode(), rnd)
                pub.publish_acked(t, payload)
                sent.append((t, payload))
        aliases = {}
        got = []
        for _ in sent:
            m = sub.recv_publish()
            alias = m.props.get(R.P_TOPIC_ALIAS)
            if alias is not None:
                assert 1 <= alias <= 2, m
                if m.topic:
                    aliases[alias] = m.topic
                else:
                    assert alias in aliases, m
            else:
                assert m.topic, m
            got.append((m.topic or aliases[alias], m.payload))
        assert got == sent


def test_paho_without_alias_support_gets_full_topics(clients, uid):
    topic = "sa/%s/paho" % uid
    sub = clients("s-" + uid)
    sub.connect()
    sub.subscribe(topic, qos=1)
    pub = clients("p-" + uid)
    pub.connect()
    for i in range(4):
        pub.publish(topic, b"%d" % i, qos=1)
    assert [(m.topic, m.payload) for m in sub.get_n(4)] == [
        (topic, b"%d" % i) for i in range(4)]


# -------------------------------------------------------- flow control, size

def test_client_receive_maximum_initial_window(broker, uid):
    topic = "rm0/%s" % uid
    with raw(broker) as sub, raw(broker) as pub:
        sub.connect("s-" + uid, props={R.P_RECEIVE_MAXIMUM: 2})
        sub.subscribe((topic, 1))
        pub.connect("p-" + uid)
        for i in range(5):
            pub.publish_acked(topic, b"%d" % i, qos=1)
        first = [sub.recv_publish(auto_ack=False) for _ in range(2)]
        assert [m.payload for m in first] == [b"0", b"1"]
        assert sub.try_recv(0.5) is None, "3rd unacked QoS 1 publish sent"
        for m in first:
            sub.ack(m)
        nxt = sub.recv_publish(auto_ack=False)
        assert nxt.payload == b"2"


# mosquitto 2.0.11 sends two new messages per PUBACK once its window is
# full, so it ends up with 3 unacked in flight (a known mosquitto bug).
@pytest.mark.relay_only
def test_client_receive_maximum_is_respected(broker, uid):
    topic = "rm/%s" % uid
    n = 6
    with raw(broker) as sub, raw(broker) as pub:
        sub.connect("s-" + uid, props={R.P_RECEIVE_MAXIMUM: 2})
        sub.subscribe((topic, 1))
        pub.connect("p-" + uid)
        for i in range(n):
            pub.publish_acked(topic, b"%d" % i, qos=1)
        outstanding = []
        received = []
        while len(received) < n:
            # Take everything the server is willing to send right now.
            while True:
                p = sub.try_recv(0.5 if len(outstanding) >= 2 else 3)
                if p is None:
                    break
                assert p.type == R.PUBLISH and p.qos == 1, p
                outstanding.append(p)
                received.append(p.payload)
                assert len(outstanding) <= 2, (
                    "more than Receive Maximum unacked: %r" % outstanding)
            assert outstanding, "server sent nothing; got %r" % received
            p = outstanding.pop(0)
            sub.send(R.puback(p.pid))
        assert received == [b"%d" % i for i in range(n)]


@pytest.mark.relay_only
def test_exceeding_server_receive_maximum_qos2(make_broker, uid):
    b = make_broker(receive_maximum=2)
    with raw(b) as c:
        ack = c.connect("c-" + uid)
        assert ack.props[R.P_RECEIVE_MAXIMUM] == 2
        for pid in (1, 2, 3):
            c.publish("rmx/%s" % uid, b"x", qos=2, pid=pid)
        got = c.wait_closed(5)
        assert got[-1].type == R.DISCONNECT and got[-1].reason == 0x93, got
    assert_serves(b)


def test_client_maximum_packet_size_drops_large_publishes(broker, uid):
    topic = "mps/%s" % uid
    with raw(broker) as sub, raw(broker) as pub:
        sub.connect("s-" + uid, props={R.P_MAXIMUM_PACKET_SIZE: 200})
        sub.subscribe((topic, 1))
        pub.connect("p-" + uid)
        pub.publish_acked(topic, b"L" * 1000, qos=1)
        pub.publish_acked(topic, b"small", qos=1)
        m = sub.recv_publish()
        assert m.payload == b"small", m
        assert sub.is_open(0.3)


@pytest.mark.parametrize("version", [4, 5])
def test_publish_over_server_maximum_packet_size(tuned, uid, version):
    with raw(tuned, version=version) as c:
        c.connect("big-%d-%s" % (version, uid))
        try:
            c.publish("big/%s" % uid, b"B" * 5000, qos=1)
        except OSError:
            pass  # the server may close while we are still sending
        got = c.wait_closed(5)
        if version == 5:
            assert got and got[-1].type == R.DISCONNECT, got
            assert got[-1].reason == 0x95, got
        else:
            assert got == [], got
    assert_serves(tuned)

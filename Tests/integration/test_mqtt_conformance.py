"""Server MUSTs of MQTT 5.0 and 3.1.1 that no other integration test
covered, over raw sockets (docs/conformance.md maps every conformance
statement to its tests).  Tests not marked relay_only run unchanged against
mosquitto 2.0 with BROKER=mosquitto, which checks the tests themselves.

Every wait is bounded; the one sleep waits for a message's expiry interval
to pass, which no event announces.
"""

import time

import pytest

import rawmqtt as R
from test_tls_ws import RawWS


def raw(b, version=5, **kw):
    return R.RawClient(b.host, b.port, version=version, **kw)


def marker_first(sub, pub, topic):
    """Publishes a marker and asserts it is the next message `sub` gets."""
    pub.publish_acked(topic, b"marker", qos=1)
    m = sub.recv_publish()
    assert m.payload == b"marker", "expected the marker first, got %r" % m


# ----------------------------------------------------------------- wills

# [MQTT-3.1.2-8], [MQTT-3.1.2-10], [MQTT-3.14.4-3]: only DISCONNECT 0x00
# deletes the will.  mosquitto 2.0.11 deletes it for every code but 0x04.
@pytest.mark.relay_only
@pytest.mark.parametrize("reason", [0x80, 0x83])
def test_will_published_after_disconnect_with_error_code(broker, uid, reason):
    topic = "conf/%s/will%x" % (uid, reason)
    with raw(broker) as obs:
        obs.connect("obs-%x-%s" % (reason, uid))
        obs.subscribe((topic, 1))
        c = raw(broker)
        c.connect("err-%x-%s" % (reason, uid),
                  will=dict(topic=topic, payload=b"failed", qos=1))
        c.disconnect(reason=reason)
        m = obs.recv_publish()
        assert (m.topic, m.payload) == (topic, b"failed")


# ------------------------------------------------------- SUBSCRIBE / UNSUBSCRIBE

# [MQTT-3.8.4-3]: a SUBSCRIBE for a filter the session already has replaces
# that subscription (one copy, at the new QoS).
@pytest.mark.parametrize("version", [5, 4])
def test_subscribing_again_replaces_the_subscription(broker, uid, version):
    topic = "conf/%s/replace%d" % (uid, version)
    with raw(broker, version) as sub, raw(broker, version) as pub:
        sub.connect("rs-%d-%s" % (version, uid))
        assert sub.subscribe((topic, 2)).codes == [2]
        assert sub.subscribe((topic, 0)).codes == [0]
        pub.connect("rp-%d-%s" % (version, uid))
        pub.publish_acked(topic, b"once", qos=2)
        m = sub.recv_publish()
        assert (m.payload, m.qos) == (b"once", 0)
        marker_first(sub, pub, topic)


# [MQTT-3.10.4-4], [MQTT-3.10.4-5], [MQTT-3.10.4-6], [MQTT-3.11.3-1]: one
# UNSUBACK with the request's packet identifier, even when nothing was
# subscribed, with a code per filter in order (0x11 for none).
@pytest.mark.parametrize("version", [5, 4])
def test_unsuback_even_when_nothing_was_subscribed(broker, uid, version):
    topic = "conf/%s/unsub%d" % (uid, version)
    with raw(broker, version) as c, raw(broker, version) as pub:
        c.connect("us-%d-%s" % (version, uid))
        c.subscribe((topic, 1))
        c.send(R.unsubscribe(4242, ["conf/%s/never" % uid, topic],
                             version=version))
        ack = c.recv_type(R.UNSUBACK)
        assert ack.pid == 4242
        if version == 5:
            assert ack.codes == [0x11, 0x00]
        else:
            assert ack.codes == []
        # The subscription is gone: only a marker on another filter arrives.
        other = "conf/%s/unsub%d-marker" % (uid, version)
        c.subscribe((other, 1))
        pub.connect("up-%d-%s" % (version, uid))
        pub.publish_acked(topic, b"after", qos=1)
        marker_first(c, pub, other)


# ------------------------------------------------------------ strings, topics

# [MQTT-1.5.4-3] (3.1.1 [MQTT-1.5.3-3]), [MQTT-4.7.3-4]: U+FEFF is neither
# stripped nor skipped, and topics match without normalization.
@pytest.mark.parametrize("version", [5, 4])
def test_byte_order_mark_is_part_of_the_topic(broker, uid, version):
    plain = "conf/%s/bom%d" % (uid, version)
    with_bom = "\ufeff" + plain
    with raw(broker, version) as sub, raw(broker, version) as pub:
        sub.connect("bs-%d-%s" % (version, uid))
        sub.subscribe([(with_bom, 1), (plain + "-marker", 1)])
        pub.connect("bp-%d-%s" % (version, uid))
        pub.publish_acked(plain, b"no bom", qos=1)
        pub.publish_acked(with_bom, b"bom", qos=1)
        m = sub.recv_publish()
        assert (m.topic, m.payload) == (with_bom, b"bom"), m
        marker_first(sub, pub, plain + "-marker")


# ---------------------------------------------------------------- QoS flows

# [MQTT-4.3.3-11]: a PUBREL is answered with PUBCOMP of its packet
# identifier, even for one the server does not know (MQTT 5: 0x92).
@pytest.mark.parametrize("version", [5, 4])
def test_pubrel_for_an_unknown_identifier_gets_pubcomp(broker, uid, version):
    with raw(broker, version) as c:
        c.connect("pr-%d-%s" % (version, uid))
        c.send(R.pubrel(777, version=version))
        comp = c.recv_type(R.PUBCOMP)
        assert comp.pid == 777
        assert c.is_open()


# [MQTT-4.3.3-9]: after a PUBREC of 0x80 or above the packet identifier
# names a new message.  The relay, like mosquitto, refuses a client's PUBLISH
# to a $SYS topic with 0x87.
def test_qos2_identifier_is_free_after_a_failing_pubrec(broker, uid):
    topic = "conf/%s/q2free" % uid
    with raw(broker) as sub, raw(broker) as pub:
        sub.connect("fs-" + uid)
        sub.subscribe((topic, 2))
        pub.connect("fp-" + uid)
        pub.publish("$SYS/conf/" + uid, b"refused", qos=2, pid=9)
        rec = pub.recv_type(R.PUBREC)
        assert (rec.pid, rec.reason) == (9, 0x87)
        pub.publish(topic, b"new", qos=2, pid=9, dup=True)
        assert pub.recv_type(R.PUBREC).reason == 0
        pub.send(R.pubrel(9))
        assert pub.recv_type(R.PUBCOMP).pid == 9
        assert sub.recv_publish().payload == b"new"


# [MQTT-4.3.3-7], [MQTT-3.3.2-5], [MQTT-4.4.0-1]: a message the server has
# sent is not expired afterwards: the resumed session gets it again (DUP).
# The relay sends what is left of the interval, 0.  mosquitto 2.0.11 drops
# such a message when its clock (in whole seconds) says it has expired, and
# leaves the property out when it does not.
@pytest.mark.relay_only
@pytest.mark.parametrize("qos", [1, 2])
def test_message_sent_before_it_expired_is_resent_on_resume(broker, uid, qos):
    topic = "conf/%s/exp%d" % (uid, qos)
    cid = "ex-%d-%s" % (qos, uid)
    keep = {R.P_SESSION_EXPIRY: 60}
    sub = raw(broker)
    sub.connect(cid, clean=True, props=keep)
    sub.subscribe((topic, qos))
    with raw(broker) as pub:
        pub.connect("xp-%d-%s" % (qos, uid))
        pub.publish_acked(topic, b"short-lived", qos=qos,
                          props={R.P_MESSAGE_EXPIRY: 1})
    first = sub.recv_publish(auto_ack=False)
    assert first.payload == b"short-lived" and not first.dup
    sub.close()  # unacknowledged
    time.sleep(1.2)  # the expiry interval passes; no event says so
    with raw(broker) as again:
        assert again.connect(cid, clean=False, props=keep).session_present
        m = again.recv_type(R.PUBLISH)
        assert (m.pid, m.dup, m.payload) == (first.pid, True, b"short-lived")
        assert m.props.get(R.P_MESSAGE_EXPIRY) == 0
        again.ack(m)
        if qos == 2:
            assert again.recv_type(R.PUBREL).pid == m.pid
            again.send(R.pubcomp(m.pid))
        again.disconnect(props={R.P_SESSION_EXPIRY: 0})


# ------------------------------------------------------- retain and wills

# [MQTT-3.1.2-14]: a will without Will Retain is published as a
# non-retained message: live subscribers get it with RETAIN 0, later ones
# get nothing retained.
@pytest.mark.parametrize("version", [5, 4])
def test_will_without_retain_is_not_retained(broker, uid, version):
    topic = "conf/%s/will-nr%d" % (uid, version)
    with raw(broker, version) as obs, raw(broker, version) as pub:
        obs.connect("wo-%d-%s" % (version, uid))
        obs.subscribe((topic, 1))
        dying = raw(broker, version)
        dying.connect("wd-%d-%s" % (version, uid),
                      will=dict(topic=topic, payload=b"bye", qos=1))
        dying.close()
        m = obs.recv_publish()
        assert (m.payload, m.retain) == (b"bye", False)
        with raw(broker, version) as late:
            late.connect("wl-%d-%s" % (version, uid))
            late.subscribe((topic, 1))
            pub.connect("wp-%d-%s" % (version, uid))
            marker_first(late, pub, topic)


# [MQTT-3.3.1-8] (3.1.1 [MQTT-3.3.1-12]): a PUBLISH without RETAIN neither
# stores nor replaces nor removes the retained message.
@pytest.mark.parametrize("version", [5, 4])
def test_publish_without_retain_leaves_the_retained_message(broker, uid,
                                                           version):
    topic = "conf/%s/keep%d" % (uid, version)
    with raw(broker, version) as pub:
        pub.connect("kp-%d-%s" % (version, uid))
        pub.publish_acked(topic, b"kept", qos=1, retain=True)
        pub.publish_acked(topic, b"live", qos=1)
        pub.publish_acked(topic, b"", qos=1)
        with raw(broker, version) as late:
            late.connect("kl-%d-%s" % (version, uid))
            late.subscribe((topic, 1))
            m = late.recv_publish()
            assert (m.payload, m.retain) == (b"kept", True)
            marker_first(late, pub, topic)
        pub.publish_acked(topic, b"", qos=1, retain=True)


# ------------------------------------------------------ delivery to subscribers

# [MQTT-3.3.1-3]: the DUP flag of a PUBLISH the server sends says only
# whether the server is retransmitting it, not how it arrived.
@pytest.mark.parametrize("version", [5, 4])
def test_incoming_dup_is_not_passed_on(broker, uid, version):
    topic = "conf/%s/dup%d" % (uid, version)
    with raw(broker, version) as sub, raw(broker, version) as pub:
        sub.connect("ds-%d-%s" % (version, uid))
        sub.subscribe((topic, 1))
        pub.connect("dp-%d-%s" % (version, uid))
        pid = pub.publish(topic, b"again", qos=1, dup=True)
        assert pub.recv_type(R.PUBACK).pid == pid
        m = sub.recv_publish()
        assert (m.payload, m.dup) == (b"again", False)


# [MQTT-3.3.4-2]..[MQTT-3.3.4-5]: overlapping subscriptions of one session.
# The relay sends one copy at the highest QoS with every Subscription
# Identifier; a server may instead send one copy per subscription, each
# with its own identifier and QoS (mosquitto 2.0 does).
def test_overlapping_subscriptions(broker, uid):
    base = "conf/%s/ov" % uid
    with raw(broker) as sub, raw(broker) as pub:
        sub.connect("os-" + uid)
        sub.subscribe((base + "/+", 0), props={R.P_SUBSCRIPTION_ID: 1})
        sub.subscribe((base + "/#", 2), props={R.P_SUBSCRIPTION_ID: 2})
        pub.connect("op-" + uid)
        sub.subscribe((base + "-marker", 1))
        pub.publish_acked(base + "/x", b"both", qos=2)
        pub.publish_acked(base + "-marker", b"marker", qos=1)
        copies = []
        while True:
            m = sub.recv_publish()
            if m.payload == b"marker":
                break
            copies.append(m)
        assert copies, "no copy of the message"
        if len(copies) == 1:
            m = copies[0]
            assert m.qos == 2, m
            assert sorted(m.props.get(R.P_SUBSCRIPTION_ID)) == [1, 2], m
        else:
            got = sorted((c.props.get(R.P_SUBSCRIPTION_ID), c.qos)
                         for c in copies)
            assert got == [([1], 0), ([2], 2)], got


# ------------------------------------------------------------ client identifiers

# 3.1.1 [MQTT-3.1.3-9], 5.0 [MQTT-3.1.3-8]: a client identifier the server
# rejects (the relay takes up to 256 bytes) gets return code 2 / 0x85, then
# the connection closes.  mosquitto 2.0.11 accepts such identifiers.
@pytest.mark.relay_only
@pytest.mark.parametrize("version", [5, 4])
def test_overlong_client_identifier_is_rejected(broker, version):
    with raw(broker, version) as c:
        ack = c.connect("x" * 257, expect=None)
        assert ack.reason == (0x85 if version == 5 else 0x02), ack
        assert not ack.session_present
        assert c.wait_closed(5) == []


# ---------------------------------------------------------- shared subscriptions

# [MQTT-4.8.2-3]: the member gets the message at the QoS granted to it.
def test_shared_subscription_respects_the_granted_qos(broker, uid):
    topic = "conf/%s/shq" % uid
    with raw(broker) as member, raw(broker) as pub:
        member.connect("sm-" + uid)
        assert member.subscribe(("$share/g%s/%s" % (uid, topic), 0)).codes \
            == [0]
        pub.connect("sp-" + uid)
        pub.publish_acked(topic, b"down", qos=2)
        m = member.recv_publish()
        assert (m.payload, m.qos) == (b"down", 0)


# [MQTT-4.8.2-6]: a member that refuses a message (PUBACK 0x80) does not
# make the server send it to another member.
def test_shared_message_refused_by_a_member_goes_to_no_other(broker, uid):
    topic = "conf/%s/shr" % uid
    share = "$share/r%s/%s" % (uid, topic)
    with raw(broker) as a, raw(broker) as b, raw(broker) as pub:
        for c, name in ((a, "a"), (b, "b")):
            c.connect("sh%s-%s" % (name, uid))
            assert c.subscribe((share, 1)).codes == [1]
        pub.connect("shp-" + uid)
        pub.publish_acked(topic, b"refused", qos=1)
        # Whoever gets it refuses it; then two more messages, one per member
        # or both to one, and "refused" must not come again.
        for marker in (b"m1", b"m2"):
            pub.publish_acked(topic, marker, qos=1)
        seen = []
        deadline = time.monotonic() + 10
        while len([p for p in seen if p != b"refused"]) < 2:
            assert time.monotonic() < deadline, seen
            for c in (a, b):
                p = c.try_recv(0.05)
                if p is None or p.type != R.PUBLISH:
                    continue
                if p.payload == b"refused":
                    c.send(R.puback(p.pid, reason=0x80))
                else:
                    c.ack(p)
                seen.append(p.payload)
        assert seen.count(b"refused") == 1, seen
        assert sorted(x for x in seen if x != b"refused") == [b"m1", b"m2"]


# --------------------------------------------------------------- authorization

# 3.1.1 [MQTT-3.3.5-2]: a PUBLISH the server does not authorize (a client's
# $SYS topic) is acknowledged as usual, or the connection closed; the relay
# acknowledges it and drops it.
def test_v311_unauthorized_publish_is_acknowledged_and_dropped(broker, uid):
    sys_topic = "$SYS/conf/" + uid
    with raw(broker, 4) as sub, raw(broker, 4) as pub:
        sub.connect("us-" + uid)
        sub.subscribe([(sys_topic, 1), ("conf/%s/auth" % uid, 1)])
        pub.connect("up-" + uid)
        ack = pub.publish_acked(sys_topic, b"not allowed", qos=1)
        assert ack.type == R.PUBACK
        assert pub.is_open()
        marker_first(sub, pub, "conf/%s/auth" % uid)


# ------------------------------------------------------------------ WebSocket

# [MQTT-6.0.0-1]: MQTT goes in binary frames; a text frame closes the
# connection (the relay sends a close frame with 1003 first).  mosquitto
# 2.0.11 answers a PINGREQ sent in a text frame.
@pytest.mark.relay_only
def test_websocket_text_frame_closes(make_broker, uid):
    b = make_broker(ws=True)
    ws = RawWS(b.host, b.ws_port)
    try:
        ws.send_frame(R.connect("wst-" + uid, 4), opcode=2)
        assert ws.recv_packet(4).type == R.CONNACK
        ws.send_frame(R.pingreq(), opcode=1)
        deadline = time.monotonic() + 5
        frames = []
        try:
            while True:
                b0, b1 = ws._read(2, deadline)
                data = ws._read(b1 & 0x7F, deadline)
                frames.append((b0 & 0x0F, data))
        except (R.Closed, OSError):
            pass
        opcodes = [op for op, _ in frames]
        assert 2 not in opcodes, "no MQTT answer (PINGRESP) to a text frame"
        assert opcodes and opcodes[-1] == 8, frames
        assert int.from_bytes(frames[-1][1][:2], "big") == 1003, frames
    finally:
        ws.close()


# [MQTT-4.8.2-4], [MQTT-4.8.2-5]: a message in flight to a member whose
# connection broke stays with that member: it is completed when the member
# reconnects, and never handed to another member.
def test_shared_message_in_flight_stays_with_its_member(broker, uid):
    topic = "conf/%s/shk" % uid
    share = "$share/k%s/%s" % (uid, topic)
    marker = "conf/%s/shk-marker" % uid
    cid = "shk-a-" + uid
    keep = {R.P_SESSION_EXPIRY: 60}
    a = raw(broker)
    a.connect(cid, props=keep)
    assert a.subscribe((share, 2)).codes == [2]
    with raw(broker) as b, raw(broker) as pub:
        pub.connect("shk-p-" + uid)
        pub.publish_acked(topic, b"in flight", qos=2)
        first = a.recv_publish(auto_ack=False)
        assert first.payload == b"in flight"
        a.close()  # no PUBREC: the QoS 2 message is in flight
        b.connect("shk-b-" + uid)
        assert b.subscribe([(share, 2), (marker, 1)]).codes == [2, 1]
        marker_first(b, pub, marker)
        with raw(broker) as again:
            assert again.connect(cid, clean=False, props=keep).session_present
            m = again.recv_type(R.PUBLISH)
            assert (m.payload, m.pid, m.dup) == (b"in flight", first.pid, True)
            again.send(R.pubrec(m.pid))
            assert again.recv_type(R.PUBREL).pid == m.pid
            again.send(R.pubcomp(m.pid))
            again.disconnect(props={R.P_SESSION_EXPIRY: 0})
        marker_first(b, pub, marker)

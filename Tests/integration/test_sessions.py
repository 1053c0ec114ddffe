"""Sessions, keep-alive, takeover, wills, retained messages, expiry.

Tests about time passing (keep-alive, will delay, expiry) wait for the event
with a deadline and check it did not happen too early; nothing else sleeps.
"""

import time

import pytest

import rawmqtt as R
from helpers import assert_serves

V = [4, 5]


def raw(b, version=5, **kw):
    return R.RawClient(b.host, b.port, version=version, **kw)


def persistent(version, first, expiry=60):
    """connect() kwargs for a session that outlives the connection: v5 uses
    Session Expiry (Clean Start only on the first connect), 3.1.1 uses
    CleanSession=0 (client ids are unique per test, so the first connect
    finds no old session)."""
    if version == 5:
        return dict(clean=first, props={R.P_SESSION_EXPIRY: expiry})
    return dict(clean=False)


def keepalive_bound(broker, keepalive):
    """Latest acceptable close after a client goes silent.  The relay must
    close at 1.5 x keepalive (plus scheduling slack); mosquitto 2.0.11 only
    checks keep-alives every few seconds, so it gets a looser bound."""
    slack = 1.5 if broker.kind == "relay" else 7.0
    return 1.5 * keepalive + slack


def expect_marker_first(sub, pub, topic, timeout=5.0):
    """Publishes a marker and asserts it is the next message `sub` gets."""
    pub.publish_acked(topic, b"marker", qos=1)
    m = sub.recv_publish(timeout=timeout)
    assert m.payload == b"marker", "expected marker first, got %r" % m
    return m


# ------------------------------------------------------------- takeover

# mosquitto 2.0.11 closes the old v5 connection without DISCONNECT 0x8E.
@pytest.mark.parametrize("version", [4, pytest.param(
    5, marks=pytest.mark.relay_only)])
def test_session_takeover(broker, uid, version):
    cid = "take-" + uid
    with raw(broker, version) as first, raw(broker, version) as second:
        first.connect(cid)
        ack = second.connect(cid)
        assert ack.reason == 0
        got = first.wait_closed(5)
        if version == 5:
            assert got and got[-1].type == R.DISCONNECT, got
            assert got[-1].reason == 0x8E, got
        else:
            assert got == [], got
        # The new connection is fully functional.
        topic = "take/%s" % uid
        second.subscribe((topic, 1))
        second.publish_acked(topic, b"mine", qos=1)
        assert second.recv_publish().payload == b"mine"
        second.disconnect()


def test_session_takeover_v5_closes_old_connection(broker, uid):
    cid = "take5-" + uid
    with raw(broker) as first, raw(broker) as second:
        first.connect(cid)
        assert second.connect(cid).reason == 0
        got = first.wait_closed(5)
        assert all(p.type == R.DISCONNECT and p.reason == 0x8E
                   for p in got), got
        second.disconnect()


def test_takeover_keeps_persistent_session(broker, uid):
    cid = "takes-" + uid
    topic = "takes/%s" % uid
    with raw(broker) as first, raw(broker) as second, raw(broker) as pub:
        first.connect(cid, **persistent(5, True))
        first.subscribe((topic, 1))
        ack = second.connect(cid, **persistent(5, False))
        assert ack.session_present, ack
        first.wait_closed(5)
        pub.connect("p-" + uid)
        pub.publish_acked(topic, b"still-subscribed", qos=1)
        assert second.recv_publish().payload == b"still-subscribed"
        second.disconnect()


# ------------------------------------------------------------- keep-alive

@pytest.mark.parametrize("version", V)
def test_keepalive_timeout_closes_and_publishes_will(broker, uid, version):
    will_topic = "ka/%s/will" % uid
    with raw(broker, version) as obs, raw(broker, version) as silent:
        obs.connect("obs-" + uid)
        obs.subscribe((will_topic, 1))
        silent.connect("silent-" + uid, keepalive=1,
                       will=dict(topic=will_topic, payload=b"gone", qos=1))
        t0 = time.monotonic()
        got = silent.wait_closed(keepalive_bound(broker, 1) + 2)
        elapsed = time.monotonic() - t0
        # Closed after 1.5 x keepalive (allow scheduling slack), not before
        # the keep-alive period has passed.
        assert 1.0 <= elapsed <= keepalive_bound(broker, 1), elapsed
        if version == 5:
            assert all(p.type == R.DISCONNECT for p in got), got
            if got:
                assert got[0].reason == 0x8D, got
        else:
            assert got == [], got
        m = obs.recv_publish(timeout=5)
        assert (m.topic, m.payload) == (will_topic, b"gone")


def test_pings_keep_connection_alive(broker, uid):
    with raw(broker, 4) as c:
        c.connect("ping-" + uid, keepalive=1)
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            time.sleep(0.5)  # time passing is the point of this test
            c.send(R.pingreq())
            c.recv_type(R.PINGRESP, timeout=2)
        c.disconnect()


def test_server_keep_alive_is_enforced(make_broker, uid):
    b = make_broker(max_keep_alive=10)
    with raw(b) as c:
        ack = c.connect("ska-" + uid, keepalive=600)
        assert ack.props.get(R.P_SERVER_KEEP_ALIVE) == 10, ack
        c.disconnect()
    with raw(b) as c:
        ack = c.connect("ska2-" + uid, keepalive=5)
        assert ack.props.get(R.P_SERVER_KEEP_ALIVE, 5) == 5, ack
        c.disconnect()


@pytest.mark.relay_only
def test_server_keep_alive_short_disconnects_silent_client(make_broker, uid):
    b = make_broker(max_keep_alive=1)
    with raw(b) as c:
        ack = c.connect("ska3-" + uid, keepalive=30)
        assert ack.props.get(R.P_SERVER_KEEP_ALIVE) == 1, ack
        t0 = time.monotonic()
        c.wait_closed(6)
        assert 1.0 <= time.monotonic() - t0 <= keepalive_bound(b, 1)


# ------------------------------------------------------------- wills

@pytest.mark.parametrize("version", V)
def test_will_on_abnormal_close(broker, uid, version):
    will_topic = "will/%s/ab" % uid
    wprops = {R.P_CONTENT_TYPE: "text/plain",
              R.P_USER_PROPERTY: [("why", "crash")]} if version == 5 else None
    with raw(broker, version) as obs:
        obs.connect("obs-" + uid)
        obs.subscribe((will_topic, 1))
        dying = raw(broker, version)
        dying.connect("dying-" + uid, will=dict(
            topic=will_topic, payload=b"bye", qos=1, props=wprops))
        dying.close()  # no DISCONNECT
        m = obs.recv_publish()
        assert (m.topic, m.payload, m.qos) == (will_topic, b"bye", 1)
        if version == 5:
            assert m.props[R.P_CONTENT_TYPE] == "text/plain"
            assert m.props[R.P_USER_PROPERTY] == [("why", "crash")]


def test_retained_will(broker, uid):
    will_topic = "will/%s/ret" % uid
    dying = raw(broker, 4)
    dying.connect("dying-" + uid, will=dict(
        topic=will_topic, payload=b"offline", qos=1, retain=True))
    with raw(broker, 4) as obs:
        obs.connect("obs-" + uid)
        obs.subscribe((will_topic, 1))
        dying.close()
        m = obs.recv_publish()
        assert m.payload == b"offline"
    with raw(broker, 4) as late:
        late.connect("late-" + uid)
        late.subscribe((will_topic, 1))
        m = late.recv_publish()
        assert (m.payload, m.retain) == (b"offline", True)
        late.publish_acked(will_topic, b"", qos=1, retain=True)


@pytest.mark.parametrize("version", V)
def test_no_will_after_normal_disconnect(broker, uid, version):
    will_topic = "will/%s/norm" % uid
    with raw(broker, version) as obs, raw(broker, version) as pub:
        obs.connect("obs-" + uid)
        obs.subscribe((will_topic, 1))
        c = raw(broker, version)
        c.connect("polite-" + uid, will=dict(topic=will_topic, payload=b"x"))
        c.disconnect()
        # Give the broker a moment to (wrongly) publish it, then show that
        # the marker is the first thing the observer sees.
        assert obs.try_recv(0.5) is None
        pub.connect("p-" + uid)
        expect_marker_first(obs, pub, will_topic)


def test_v5_disconnect_with_will_message(broker, uid):
    will_topic = "will/%s/04" % uid
    with raw(broker) as obs:
        obs.connect("obs-" + uid)
        obs.subscribe((will_topic, 1))
        c = raw(broker)
        c.connect("w04-" + uid, will=dict(topic=will_topic, payload=b"asked"))
        c.disconnect(reason=0x04)
        assert obs.recv_publish().payload == b"asked"


def test_will_delay(broker, uid):
    will_topic = "will/%s/delay" % uid
    with raw(broker) as obs:
        obs.connect("obs-" + uid)
        obs.subscribe((will_topic, 1))
        c = raw(broker)
        c.connect("wd-" + uid, props={R.P_SESSION_EXPIRY: 30},
                  will=dict(topic=will_topic, payload=b"late",
                            props={R.P_WILL_DELAY: 2}))
        c.close()
        t0 = time.monotonic()
        m = obs.recv_publish(timeout=8)
        elapsed = time.monotonic() - t0
        assert m.payload == b"late"
        assert 1.5 <= elapsed <= 6.0, elapsed
    # tidy: end the session
    with raw(broker) as c:
        c.connect("wd-" + uid, clean=True)
        c.disconnect()


def test_will_delay_cancelled_by_reconnect(broker, uid):
    will_topic = "will/%s/cancel" % uid
    cid = "wdc-" + uid
    with raw(broker) as obs, raw(broker) as pub:
        obs.connect("obs-" + uid)
        obs.subscribe((will_topic, 1))
        c = raw(broker)
        c.connect(cid, props={R.P_SESSION_EXPIRY: 30},
                  will=dict(topic=will_topic, payload=b"never",
                            props={R.P_WILL_DELAY: 1}))
        c.close()
        with raw(broker) as again:
            ack = again.connect(cid, clean=False,
                                props={R.P_SESSION_EXPIRY: 30})
            assert ack.session_present
            # Wait well past the delay: the will must not appear.
            assert obs.try_recv(2.5) is None
            pub.connect("p-" + uid)
            expect_marker_first(obs, pub, will_topic)
            again.disconnect()


def test_will_published_when_session_ends_before_delay(broker, uid):
    will_topic = "will/%s/exp" % uid
    with raw(broker) as obs:
        obs.connect("obs-" + uid)
        obs.subscribe((will_topic, 1))
        c = raw(broker)
        # Session expiry 1 s < will delay 30 s: sent when the session ends.
        c.connect("wse-" + uid, props={R.P_SESSION_EXPIRY: 1},
                  will=dict(topic=will_topic, payload=b"session-over",
                            props={R.P_WILL_DELAY: 30}))
        c.close()
        m = obs.recv_publish(timeout=6)
        assert m.payload == b"session-over"


# --------------------------------------------------- persistent sessions

@pytest.mark.parametrize("version", V)
def test_unacked_qos1_redelivered_with_dup_on_resume(broker, uid, version):
    cid = "dup-" + uid
    topic = "dup/%s" % uid
    with raw(broker, version) as pub:
        pub.connect("p-" + uid)
        sub = raw(broker, version)
        sub.connect(cid, **persistent(version, True))
        sub.subscribe((topic, 1))
        for i in range(3):
            pub.publish_acked(topic, b"m%d" % i, qos=1)
        first = [sub.recv_publish(auto_ack=False) for _ in range(3)]
        assert [m.payload for m in first] == [b"m0", b"m1", b"m2"]
        assert not any(m.dup for m in first)
        sub.close()  # without acking

        with raw(broker, version) as sub2:
            ack = sub2.connect(cid, **persistent(version, False))
            assert ack.session_present, ack
            again = [sub2.recv_publish(auto_ack=False) for _ in range(3)]
            assert [(m.payload, m.pid, m.dup, m.qos) for m in again] == [
                (m.payload, m.pid, True, 1) for m in first]
            for m in again:
                sub2.ack(m)
            expect_marker_first(sub2, pub, topic)
            sub2.disconnect()
        with raw(broker, version) as end:  # discard the session
            end.connect(cid, clean=True)
            end.disconnect()


def test_qos2_resume_resends_pubrel_or_publish(broker, uid):
    cid = "q2r-" + uid
    topic = "q2r/%s" % uid
    with raw(broker) as pub:
        pub.connect("p-" + uid)
        sub = raw(broker)
        sub.connect(cid, **persistent(5, True))
        sub.subscribe((topic, 2))
        pub.publish_acked(topic, b"a", qos=2)
        pub.publish_acked(topic, b"b", qos=2)
        a = sub.recv_publish(auto_ack=False)
        b = sub.recv_publish(auto_ack=False)
        sub.send(R.pubrec(a.pid))          # a: PUBREC sent, PUBREL pending
        sub.recv_type(R.PUBREL)
        sub.close()                        # b: never acknowledged

        with raw(broker) as sub2:
            assert sub2.connect(cid, **persistent(5, False)).session_present
            p1 = sub2.recv(5)
            p2 = sub2.recv(5)
            # [MQTT-4.4.0-1]: resend unacked PUBLISH (DUP=1) and PUBREL.
            kinds = sorted([(p.name, p.pid) for p in (p1, p2)])
            assert kinds == sorted([("PUBREL", a.pid), ("PUBLISH", b.pid)]), (
                p1, p2)
            for p in (p1, p2):
                if p.type == R.PUBLISH:
                    assert p.dup and p.payload == b"b" and p.qos == 2
                    sub2.send(R.pubrec(p.pid))
                    sub2.recv_type(R.PUBREL)
                    sub2.send(R.pubcomp(p.pid))
                else:
                    sub2.send(R.pubcomp(p.pid))
            expect_marker_first(sub2, pub, topic)
            sub2.disconnect()
        with raw(broker) as end:
            end.connect(cid, clean=True)
            end.disconnect()


@pytest.mark.parametrize("version", V)
def test_offline_messages_queued_for_persistent_session(broker, uid, version):
    cid = "off-" + uid
    topic = "off/%s" % uid
    with raw(broker, version) as sub:
        sub.connect(cid, **persistent(version, True))
        sub.subscribe((topic, 1))
        sub.disconnect()
    with raw(broker, version) as pub:
        pub.connect("p-" + uid)
        for i in range(5):
            pub.publish_acked(topic, b"q%d" % i, qos=1)
        with raw(broker, version) as sub:
            ack = sub.connect(cid, **persistent(version, False))
            assert ack.session_present
            got = [sub.recv_publish() for _ in range(5)]
            assert [m.payload for m in got] == [b"q%d" % i for i in range(5)]
            expect_marker_first(sub, pub, topic)
            sub.disconnect()
    with raw(broker, version) as end:
        end.connect(cid, clean=True)
        end.disconnect()


@pytest.mark.parametrize("version", V)
def test_clean_start_discards_session(broker, uid, version):
    cid = "clean-" + uid
    topic = "clean/%s" % uid
    with raw(broker, version) as sub:
        sub.connect(cid, **persistent(version, True))
        sub.subscribe((topic, 1))
        sub.disconnect()
    with raw(broker, version) as pub:
        pub.connect("p-" + uid)
        pub.publish_acked(topic, b"stale", qos=1)
        with raw(broker, version) as sub:
            ack = sub.connect(cid, clean=True)
            assert not ack.session_present
            # The old subscription is gone too: re-subscribe, then the
            # first message must be the marker, not the queued one.
            sub.subscribe((topic, 1))
            expect_marker_first(sub, pub, topic)
            sub.disconnect()
    with raw(broker, version) as end:
        end.connect(cid, clean=True)
        end.disconnect()


def test_session_expiry_zero_ends_session_at_disconnect(broker, uid):
    cid = "se0-" + uid
    with raw(broker) as c:
        c.connect(cid, clean=True)  # no Session Expiry property = 0
        c.subscribe(("se0/%s" % uid, 1))
        c.disconnect()
    with raw(broker) as c:
        assert not c.connect(cid, clean=False).session_present
        c.disconnect()


def test_session_expiry_honoured(broker, uid):
    cid = "se1-" + uid
    keep = "se60-" + uid
    with raw(broker) as c:
        c.connect(cid, clean=True, props={R.P_SESSION_EXPIRY: 1})
        c.subscribe(("se/%s" % uid, 1))
        c.disconnect()
    with raw(broker) as c:
        c.connect(keep, clean=True, props={R.P_SESSION_EXPIRY: 60})
        c.disconnect()
    time.sleep(2.5)  # the point of the test: let 1 s session expiry pass
    with raw(broker) as c:
        ack = c.connect(cid, clean=False)
        assert not ack.session_present, "session outlived its 1 s expiry"
        c.disconnect()
    with raw(broker) as c:
        ack = c.connect(keep, clean=False)
        assert ack.session_present, "60 s session vanished"
        c.disconnect()


def test_message_expiry_in_queue_and_retained(broker, uid):
    cid = "mexp-" + uid
    topic = "mexp/%s" % uid
    rtopic = "mexp/%s/ret" % uid
    with raw(broker) as sub:
        sub.connect(cid, clean=True, props={R.P_SESSION_EXPIRY: 60})
        sub.subscribe((topic, 1))
        sub.disconnect()
    with raw(broker) as pub:
        pub.connect("p-" + uid)
        pub.publish_acked(topic, b"short", qos=1,
                          props={R.P_MESSAGE_EXPIRY: 1})
        pub.publish_acked(topic, b"long", qos=1,
                          props={R.P_MESSAGE_EXPIRY: 100})
        pub.publish_acked(topic, b"forever", qos=1)
        pub.publish_acked(rtopic, b"short-retained", qos=1, retain=True,
                          props={R.P_MESSAGE_EXPIRY: 1})
        time.sleep(2.5)  # the point of the test: let 1 s expiry pass
        with raw(broker) as sub:
            assert sub.connect(cid, clean=False).session_present
            a = sub.recv_publish()
            b = sub.recv_publish()
            assert (a.payload, b.payload) == (b"long", b"forever")
            # Remaining lifetime is passed on, never increased.
            assert 0 < a.props[R.P_MESSAGE_EXPIRY] <= 98, a
            assert R.P_MESSAGE_EXPIRY not in b.props, b
            # Expired retained message is not delivered on subscribe.
            sub.subscribe((rtopic, 1))
            expect_marker_first(sub, pub, rtopic)
            sub.disconnect()
    with raw(broker) as end:
        end.connect(cid, clean=True)
        end.disconnect()


def test_max_queued_messages_bounds_offline_queue(make_broker, uid):
    b = make_broker(max_queued_messages=5, receive_maximum=2)
    cid = "mq-" + uid
    topic = "mq/%s" % uid
    with raw(b) as sub:
        sub.connect(cid, clean=True, props={R.P_SESSION_EXPIRY: 60,
                                            R.P_RECEIVE_MAXIMUM: 2})
        sub.subscribe((topic, 1))
        sub.disconnect()
    with raw(b) as pub:
        pub.connect("p-" + uid)
        for i in range(30):
            pub.publish_acked(topic, b"%d" % i, qos=1)
        with raw(b) as sub:
            sub.connect(cid, clean=False, props={R.P_SESSION_EXPIRY: 60,
                                                 R.P_RECEIVE_MAXIMUM: 2})
            got = []
            while True:
                m = sub.try_recv(1.0)
                if m is None:
                    break
                assert m.type == R.PUBLISH
                sub.ack(m)
                got.append(int(m.payload))
            # At most the queue limit plus the inflight window survive.
            assert 1 <= len(got) <= 5 + 2, got
            assert got == sorted(got)
            expect_marker_first(sub, pub, topic)
            sub.disconnect()
    assert_serves(b)


# ------------------------------------------------------------- retained

@pytest.mark.parametrize("version", V)
def test_retained_set_replace_clear(broker, uid, version):
    topic = "ret/%s" % uid
    with raw(broker, version) as pub:
        pub.connect("p-" + uid)
        pub.publish_acked(topic, b"v1", qos=1, retain=True)
        pub.publish_acked(topic, b"v2", qos=1, retain=True)
        with raw(broker, version) as s:
            s.connect("s1-" + uid)
            s.subscribe((topic, 1))
            m = s.recv_publish()
            assert (m.payload, m.retain) == (b"v2", True)
            expect_marker_first(s, pub, topic)  # only one retained msg
        pub.publish_acked(topic, b"", qos=1, retain=True)
        with raw(broker, version) as s:
            s.connect("s2-" + uid)
            s.subscribe((topic, 1))
            expect_marker_first(s, pub, topic)


def test_retained_delivered_for_wildcard_subscription(broker, uid):
    base = "retw/%s" % uid
    with raw(broker) as pub:
        pub.connect("p-" + uid)
        for t in ("a", "b/c", "d"):
            pub.publish_acked("%s/%s" % (base, t), t.encode(), qos=1,
                              retain=True)
        with raw(broker) as s:
            s.connect("s-" + uid)
            s.subscribe(("%s/#" % base, 1))
            got = sorted((m.topic, m.payload, m.retain)
                         for m in (s.recv_publish() for _ in range(3)))
            assert got == [("%s/a" % base, b"a", True),
                           ("%s/b/c" % base, b"b/c", True),
                           ("%s/d" % base, b"d", True)]
        for t in ("a", "b/c", "d"):
            pub.publish_acked("%s/%s" % (base, t), b"", qos=1, retain=True)


def test_retained_qos_is_min_of_stored_and_subscription(broker, uid):
    topic = "retq/%s" % uid
    with raw(broker) as pub:
        pub.connect("p-" + uid)
        pub.publish_acked(topic, b"q2", qos=2, retain=True)
        for sub_qos in (0, 1, 2):
            with raw(broker) as s:
                s.connect("s%d-%s" % (sub_qos, uid))
                s.subscribe((topic, sub_qos))
                m = s.recv_publish()
                assert (m.payload, m.qos, m.retain) == (b"q2", sub_qos, True)
        pub.publish_acked(topic, b"", qos=1, retain=True)

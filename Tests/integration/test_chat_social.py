"""Receipts, typing, presence, history and devices in the chat relay
(issue 3), on a real redis-server and two relay nodes."""

import os

import pytest

from chat_support import Deployment, Device, direct, text_of, unique_names

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("social"), nodes=2)
    yield d
    d.stop()


@pytest.fixture
def names():
    return unique_names()


def test_read_receipts_reach_the_sender_and_respect_privacy(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone", node=1)
    pb = a.pb
    conversation = direct(alice, bob)
    for i in range(3):
        a.send(conversation, "m%d" % i)
    b.messages(3)
    receipt = pb.Receipt(epoch=1, read_up_to_seq=2)
    info = b.client.publish("r/" + conversation, receipt.SerializeToString(), qos=1)
    b.wait_ack(info.mid)
    (read,) = a.statuses(1, kind=pb.Status.READ)
    assert (read.conversation, read.seq, read.user) == (conversation, 2, bob)
    # Going backwards changes nothing; forward again is told.
    b.client.publish("r/" + conversation, pb.Receipt(epoch=1, read_up_to_seq=1).SerializeToString(), qos=1)
    b.client.publish("r/" + conversation, pb.Receipt(epoch=1, read_up_to_seq=3).SerializeToString(), qos=1)
    (read,) = a.statuses(1, kind=pb.Status.READ)
    assert read.seq == 3
    # Bob turns read receipts off: his reads are no longer told.
    off = pb.PrivacySettings(read_receipts=False)
    assert not b.request("privacy.set", privacy=off).HasField("error")
    a.send(conversation, "m3")
    b.messages(1)
    b.client.publish("r/" + conversation, pb.Receipt(epoch=1, read_up_to_seq=4).SerializeToString(), qos=1)
    # A marker: a later message and its DELIVERED status arrive, but no READ for 4.
    a.send(conversation, "m4")
    b.messages(1)
    skipped = []
    while True:
        topic, payload, _ = a.next(30, suffix="/s", skipped=skipped)
        s = pb.Status()
        s.ParseFromString(payload)
        assert s.kind != pb.Status.READ, "a READ came although bob turned receipts off"
        if s.kind == pb.Status.DELIVERED and s.seq == 5:
            break
    a.close()
    b.close()


def test_typing_reaches_online_members_only_and_is_not_stored(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone", node=1)
    pb = a.pb
    conversation = direct(alice, bob)
    a.send(conversation, "hi")  # the conversation exists from its first message
    b.messages(1)
    a.client.publish("t/" + conversation, pb.Typing(typing=True).SerializeToString(), qos=0)
    topic, payload, _ = b.next(20, suffix="/t")
    event = pb.TypingEvent()
    event.ParseFromString(payload)
    assert (event.conversation, event.user, event.device, event.typing) == (conversation, alice, alice + "-phone", True)
    # Offline: nothing is kept for later.
    b.close()
    a.client.publish("t/" + conversation, pb.Typing(typing=False).SerializeToString(), qos=0)
    a.send(conversation, "after typing")
    b2 = Device(region, bob, bob + "-phone")
    (got,) = b2.messages(1)
    assert text_of(got) == "after typing"
    while not b2.inbox.empty():
        assert not b2.inbox.get_nowait()[0].endswith("/t"), "a typing event was stored"
    a.close()
    b2.close()


def test_presence_online_offline_last_seen_and_visibility(region, names):
    alice, bob, carol = names("alice"), names("bob"), names("carol")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone", node=1)
    c = Device(region, carol, carol + "-phone")
    pb = a.pb
    conversation = direct(alice, bob)
    a.send(conversation, "hello")
    b.messages(1)
    resp = a.request("presence.get", presence_query=pb.PresenceQuery(user=bob))
    assert not resp.HasField("error"), resp.error
    assert resp.presence.user == bob and resp.presence.online
    # Carol shares no conversation with bob: she may not see him.
    resp = c.request("presence.get", presence_query=pb.PresenceQuery(user=bob))
    assert resp.error.code == "not_found"
    # Alice now watches bob: his going away is pushed to her, with last seen.
    b.close()
    while True:
        topic, payload, _ = a.next(20, suffix="/p")
        p = pb.Presence()
        p.ParseFromString(payload)
        if p.user == bob and not p.online:
            break
    assert p.last_seen_ms > 0
    for d in (a, c):
        d.close()


def test_history_sync_pages_through_a_conversation(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    pb = a.pb
    conversation = direct(alice, bob)
    for i in range(7):
        a.send(conversation, "h%d" % i)
    seen, after = [], 0
    while True:
        resp = a.request("history.sync", history_sync=pb.HistorySync(conversation=conversation, after_seq=after, limit=3))
        assert not resp.HasField("error"), resp.error
        seen += [(m.seq, text_of(m)) for m in resp.history.messages]
        if not resp.history.more:
            break
        after = resp.history.messages[-1].seq
    assert seen == [(i + 1, "h%d" % i) for i in range(7)]
    # Not a member: refused.
    eve = names("eve")
    e = Device(region, eve, eve + "-phone")
    resp = e.request("history.sync", history_sync=pb.HistorySync(conversation=conversation))
    assert resp.error.code == "not_member"
    a.close()
    e.close()


def test_removing_a_device_disconnects_and_revokes_it(region, names):
    alice = names("alice")
    phone = Device(region, alice, alice + "-phone")
    laptop = Device(region, alice, alice + "-laptop", node=1)
    pb = phone.pb
    resp = phone.request("devices.list", devices_list=pb.DevicesList())
    assert sorted(resp.devices.devices) == sorted([alice + "-phone", alice + "-laptop"])
    resp = phone.request("devices.remove", devices_remove=pb.DevicesRemove(device=alice + "-laptop"))
    assert list(resp.devices.devices) == [alice + "-phone"]
    laptop.disconnects.get(timeout=20)  # the relay disconnected it
    laptop.client.loop_stop()
    # Its token still verifies, but the device may not come back...
    again = Device(region, alice, alice + "-laptop", connect=False)
    port = region.nodes[0].port
    again.client.connect("127.0.0.1", port)
    again.client.loop_start()
    code = again.connack.get(timeout=20)
    assert int(getattr(code, "value", code)) == 0x87, "a removed device is refused in CONNACK"
    again.client.loop_stop()
    # ...until linked again from another of alice's devices, with the laptop's own token.
    resp = phone.request("devices.link", devices_link=pb.DevicesLink(
        device=alice + "-laptop", token=region.token(alice, alice + "-laptop")))
    assert not resp.HasField("error"), resp.error
    assert sorted(resp.devices.devices) == sorted([alice + "-phone", alice + "-laptop"])
    back = Device(region, alice, alice + "-laptop")
    back.close()
    phone.close()


def test_a_user_has_at_most_six_devices(region, names):
    alice = names("alice")
    devices = [Device(region, alice, "%s-d%d" % (alice, i)) for i in range(6)]
    seventh = Device(region, alice, alice + "-d6", connect=False)
    seventh.client.connect("127.0.0.1", region.nodes[0].port)
    seventh.client.loop_start()
    code = seventh.connack.get(timeout=20)
    assert int(getattr(code, "value", code)) == 0x97
    seventh.client.loop_stop()
    for d in devices:
        d.close()


def test_disappearing_messages_are_purged(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    pb = a.pb
    conversation = direct(alice, bob)
    a.send(conversation, "before")  # the conversation exists from its first message
    resp = a.request("conversation.settings", conversation_settings=pb.ConversationSettings(conversation=conversation, ttl_seconds=1))
    assert not resp.HasField("error"), resp.error
    assert resp.group.ttl_seconds == 1
    a.send(conversation, "gone soon")
    b = Device(region, bob, bob + "-phone")  # registered after both sends
    import time
    deadline = time.monotonic() + 10
    while True:  # time passing is the point: wait for the TTL, bounded
        history = a.request("history.sync", history_sync=pb.HistorySync(conversation=conversation)).history
        texts = [text_of(m) for m in history.messages]
        if "gone soon" not in texts:
            break
        assert time.monotonic() < deadline, "the disappearing message is still in the log"
        time.sleep(0.25)
    assert "before" in texts, "a message sent before the TTL was set keeps its retention"
    a.close()
    b.close()


def test_a_device_connecting_to_another_node_takes_over(region, names):
    from rawmqtt import DISCONNECT, RawClient
    alice = names("alice")
    device = alice + "-phone"
    old = RawClient("127.0.0.1", region.nodes[0].port, version=5)
    old.connect(device, username=alice, password=region.token(alice, device))
    new = Device(region, alice, device, node=1)
    packet = old.recv_type(DISCONNECT, timeout=20)
    assert packet.reason == 0x8E, packet
    new.close()


def test_typing_is_rate_limited(tmp_path, names):
    import json
    settings = tmp_path / "region.json"
    settings.write_text(json.dumps({"name": "typing", "typingBurst": 3, "typingPerSecond": 0.001}))
    region = Deployment(tmp_path, nodes=1, extra_args=["--config", str(settings)])
    try:
        alice, bob = names("alice"), names("bob")
        a = Device(region, alice, alice + "-phone")
        b = Device(region, bob, bob + "-phone")
        pb = a.pb
        conversation = direct(alice, bob)
        a.send(conversation, "hi")
        b.messages(1)
        for i in range(10):
            a.client.publish("t/" + conversation, pb.Typing(typing=i % 2 == 0).SerializeToString(), qos=0)
        b.next(20, suffix="/t")  # the first of the burst arrives
        a.send(conversation, "marker")  # after the typing burst, on the same connection
        skipped = []
        b.next(20, suffix="/m", skipped=skipped)
        typing = 1 + len([t for t in skipped if t[0].endswith("/t")])
        # The burst of 3 passes; the other 7 are dropped (one refill of slack).
        assert typing <= 4, typing
        a.close()
        b.close()
    finally:
        region.stop()

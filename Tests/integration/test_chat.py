"""The chat relay in one region (issue 3): real redis-server, real relay
serve nodes, paho clients speaking the device contract."""

import os
import time

import pytest

from chat_support import Deployment, Device, direct, text_of, unique_names

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("region"), nodes=2)
    yield d
    d.stop()


@pytest.fixture
def names():
    return unique_names()


def test_one_to_one_with_statuses(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone")
    pb = a.pb
    conversation = direct(alice, bob)
    cmid = a.send(conversation, "hello bob")
    (got,) = b.messages(1)
    assert (got.conversation, got.seq, got.from_user, got.from_device, got.client_message_id) == \
        (conversation, 1, alice, alice + "-phone", cmid)
    assert text_of(got) == "hello bob"
    assert got.epoch >= 1 and got.server_time_ms > 0
    (sequenced,) = a.statuses(1, kind=pb.Status.SEQUENCED)
    assert (sequenced.seq, sequenced.client_message_id) == (1, cmid)
    (delivered,) = a.statuses(1, kind=pb.Status.DELIVERED)
    assert (delivered.seq, delivered.user, delivered.device) == (1, bob, bob + "-phone")
    a.close()
    b.close()


def test_order_and_the_senders_other_devices(region, names):
    alice, bob = names("alice"), names("bob")
    phone = Device(region, alice, alice + "-phone")
    laptop = Device(region, alice, alice + "-laptop", node=1)
    b = Device(region, bob, bob + "-phone", node=1)
    conversation = direct(alice, bob)
    for i in range(20):
        phone.send(conversation, "m%d" % i)
    assert [text_of(d) for d in b.messages(20)] == ["m%d" % i for i in range(20)]
    mine = laptop.messages(20)
    assert [d.seq for d in mine] == list(range(1, 21))
    for d in (phone, laptop, b):
        d.close()


def test_both_users_writing_at_once_reach_every_device_once_in_seq_order(region, names):
    """Sends from both sides interleave. Each device gets every message but
    its own once, in seq order, whether its node hands it over as it is
    stored (same node as the sender) or its pump reads it (the other node);
    each sending device hears SEQUENCED once per send."""
    alice, bob = names("alice"), names("bob")
    a_phone = Device(region, alice, alice + "-phone")
    a_laptop = Device(region, alice, alice + "-laptop", node=1)
    b_phone = Device(region, bob, bob + "-phone")
    pb = a_phone.pb
    conversation = direct(alice, bob)
    n = 30
    for i in range(n):
        a_phone.send(conversation, "a%d" % i, wait=False)
        b_phone.send(conversation, "b%d" % i, wait=False)

    def collect(device, messages, sequenced):
        got, statuses = [], []
        deadline = time.monotonic() + 30
        while len(got) < messages or len(statuses) < sequenced:
            topic, payload, _ = device.next(deadline - time.monotonic())
            if topic.endswith("/m"):
                got.append(pb.Delivery.FromString(payload))
            elif topic.endswith("/s"):
                status = pb.Status.FromString(payload)
                if status.kind == pb.Status.SEQUENCED:
                    statuses.append(status)
        return got, statuses

    for device, expected, sends in ((b_phone, {"a%d" % i for i in range(n)}, n),
                                    (a_phone, {"b%d" % i for i in range(n)}, n),
                                    (a_laptop, {"%s%d" % (w, i) for w in "ab" for i in range(n)}, 0)):
        got, sequenced = collect(device, len(expected), sends)
        seqs = [d.seq for d in got]
        assert seqs == sorted(set(seqs)), "%s: seqs out of order or repeated: %s" % (device.device, seqs)
        assert {text_of(d) for d in got} == expected
        assert max(seqs) <= 2 * n
        assert len({s.seq for s in sequenced}) == sends
    for d in (a_phone, a_laptop, b_phone):
        d.close()


def test_offline_device_gets_everything_in_order_on_reconnect(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone")  # registers the device, then goes away
    b.close()
    conversation = direct(alice, bob)
    for i in range(10):
        a.send(conversation, "while away %d" % i)
    b2 = Device(region, bob, bob + "-phone", node=1)
    got = b2.messages(10)
    assert [text_of(d) for d in got] == ["while away %d" % i for i in range(10)]
    assert [d.seq for d in got] == list(range(1, 11))
    a.close()
    b2.close()


def test_a_device_that_acknowledges_nothing_gets_redelivery(region, names):
    from rawmqtt import RawClient
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    pb = a.pb
    device = bob + "-phone"
    token = region.token(bob, device)
    conversation = direct(alice, bob)
    # Bob's device receives the messages and never sends a PUBACK.
    raw = RawClient("127.0.0.1", region.nodes[0].port, version=5)
    raw.connect(device, username=bob, password=token)
    raw.subscribe(("d/%s/#" % device, 1))
    for i in range(3):
        a.send(conversation, "unacked %d" % i)
    got = []
    while len(got) < 3:
        p = raw.recv_publish(timeout=20, auto_ack=False)
        if p.topic.endswith("/m"):
            d = pb.Delivery()
            d.ParseFromString(p.payload)
            got.append(d.seq)
    assert got == [1, 2, 3]
    raw.close()  # the link drops with nothing acknowledged
    # Next connection (another node): everything comes again, in order, then is acknowledged.
    again = Device(region, bob, device, node=1)
    assert [(d.seq, text_of(d)) for d in again.messages(3)] == [(i + 1, "unacked %d" % i) for i in range(3)]
    again.close()
    # Acknowledged now: a further connection gets only what is new.
    a.send(conversation, "fresh")
    last = Device(region, bob, device)
    assert [text_of(d) for d in last.messages(1)] == ["fresh"]
    a.close()
    last.close()


def test_duplicate_sends_are_stored_once(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone")
    pb = a.pb
    conversation = direct(alice, bob)
    cmid = a.send(conversation, "once")
    a.send(conversation, "once", cmid=cmid)
    a.send(conversation, "after")
    got = b.messages(2)
    assert [text_of(d) for d in got] == ["once", "after"]
    assert [d.seq for d in got] == [1, 2]
    # The retry's SEQUENCED status is the same bytes as the first one's; the
    # device queue holds identical entries once, so there may be one or two.
    seen = {}
    while len(seen) < 2:
        (s,) = a.statuses(1, kind=pb.Status.SEQUENCED)
        assert seen.setdefault(s.client_message_id, s.seq) == s.seq
    assert seen[cmid] == 1 and sorted(seen.values()) == [1, 2]
    a.close()
    b.close()


def test_groups_fan_out_to_every_member_device(region, names):
    users = [names("u%d" % i) for i in range(4)]
    devices = [Device(region, u, u + "-d", node=i % 2) for i, u in enumerate(users)]
    pb = devices[0].pb
    create = pb.GroupCreate()
    create.members.extend(users[1:])
    resp = devices[0].request("group.create", group_create=create)
    assert not resp.HasField("error"), resp.error
    group = resp.group.conversation
    assert group.startswith("g")
    assert sorted(resp.group.members) == sorted(users)
    assert list(resp.group.admins) == [users[0]]
    devices[2].send(group, "to all")
    for d in devices[:2] + devices[3:]:
        (got,) = d.messages(1)
        assert (got.conversation, got.from_user, text_of(got)) == (group, users[2], "to all")
    for d in devices:
        d.close()


def membership_events(device, group, n, timeout=30):
    """The next n MembershipEvents of `group` on d/<device>/e (bounded)."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        _, payload, _ = device.next(deadline - time.monotonic(), suffix="/e")
        event = device.pb.Event()
        event.ParseFromString(payload)
        if event.HasField("membership") and event.membership.conversation == group:
            out.append(event.membership)
    return out


def test_the_earliest_joined_member_succeeds_the_last_admin(region, names):
    """RelayCore's Group rule runs (docs/protocol.md): not the first by name."""
    creator, zoe, amy = names("creator"), names("zoe"), names("amy")
    c = Device(region, creator, creator + "-d")
    z = Device(region, zoe, zoe + "-d")
    pb = c.pb
    create = pb.GroupCreate()
    create.members.extend([zoe, amy])  # zoe joins before amy, though amy sorts first
    group = c.request("group.create", group_create=create).group.conversation
    assert [e.change for e in membership_events(z, group, 1)] == [pb.MembershipEvent.CREATED]
    resp = c.request("group.leave", group_leave=pb.GroupLeave(conversation=group))
    assert not resp.HasField("error"), resp.error
    left, granted = membership_events(z, group, 2)
    assert (left.change, left.actor, list(left.users)) == (pb.MembershipEvent.LEFT, creator, [creator])
    assert (granted.change, granted.actor, list(granted.users)) == (pb.MembershipEvent.ADMIN_GRANTED, "", [zoe])
    info = z.request("group.add", group_add=pb.GroupMembers(conversation=group, users=[names("new")]))
    assert not info.HasField("error") and list(info.group.admins) == [zoe], info
    c.close(); z.close()


def test_non_members_are_refused(region, names):
    users = [names("m%d" % i) for i in range(2)]
    outsider = names("outsider")
    owner = Device(region, users[0], users[0] + "-d")
    pb = owner.pb
    create = pb.GroupCreate()
    create.members.append(users[1])
    group = owner.request("group.create", group_create=create).group.conversation
    o = Device(region, outsider, outsider + "-d")
    cmid = o.send(group, "let me in", wait=False)
    (refused,) = o.statuses(1, kind=pb.Status.REFUSED)
    assert (refused.client_message_id, refused.error.code) == (cmid, "not_member")
    # And a 1:1 conversation of two other users.
    o.send(direct(users[0], users[1]), "nor here", wait=False)
    (refused,) = o.statuses(1, kind=pb.Status.REFUSED)
    assert refused.error.code == "not_member"
    owner.close()
    o.close()


def test_subscriptions_outside_the_own_device_are_refused(region, names):
    alice = names("alice")
    a = Device(region, alice, alice + "-phone")
    result = {}
    import threading
    done = threading.Event()

    def on_subscribe(client, userdata, mid, reason_codes, properties=None):
        result["codes"] = [int(getattr(rc, "value", rc)) for rc in reason_codes]
        done.set()

    a.client.on_subscribe = on_subscribe
    a.client.subscribe([("d/someone-else/#", 1), ("#", 1)])
    assert done.wait(20)
    assert result["codes"] == [0x87, 0x87]
    a.close()


def test_bad_tokens_are_refused(region, names):
    import paho.mqtt.client as mqtt
    import queue
    alice = names("alice")
    codes = queue.Queue()
    c = mqtt.Client(client_id=alice + "-phone", protocol=mqtt.MQTTv5)
    c.username_pw_set(alice, "not-a-token")
    c.on_connect = lambda client, u, f, rc, p=None: codes.put(int(getattr(rc, "value", rc)))
    c.connect("127.0.0.1", region.nodes[0].port)
    c.loop_start()
    try:
        assert codes.get(timeout=20) == 0x86
    finally:
        c.loop_stop()
    # A good token for another device than the client id.
    c = mqtt.Client(client_id=alice + "-other", protocol=mqtt.MQTTv5)
    c.username_pw_set(alice, region.token(alice, alice + "-phone"))
    c.on_connect = lambda client, u, f, rc, p=None: codes.put(int(getattr(rc, "value", rc)))
    c.connect("127.0.0.1", region.nodes[0].port)
    c.loop_start()
    try:
        assert codes.get(timeout=20) == 0x85
    finally:
        c.loop_stop()


def test_mqtt_311_devices_work_too(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-old", version=3)
    b = Device(region, bob, bob + "-old", version=3, node=1)
    conversation = direct(alice, bob)
    a.send(conversation, "from an old phone")
    (got,) = b.messages(1)
    assert text_of(got) == "from an old phone"
    a.close()
    b.close()


def test_per_device_ciphertexts_reach_their_devices(region, names):
    alice, bob = names("alice"), names("bob")
    a_phone = Device(region, alice, alice + "-phone")
    a_laptop = Device(region, alice, alice + "-laptop", node=1)
    b_phone = Device(region, bob, bob + "-phone")
    b_laptop = Device(region, bob, bob + "-laptop", node=1)
    pb = a_phone.pb
    send = pb.Send(client_message_id="pairwise-1", ciphertext=b"shared")
    send.device_ciphertexts[bob + "-phone"] = b"for bob's phone"
    send.device_ciphertexts[bob + "-laptop"] = b"for bob's laptop"
    info = a_phone.client.publish("s/" + direct(alice, bob), send.SerializeToString(), qos=1)
    a_phone.wait_ack(info.mid)
    assert b_phone.messages(1)[0].ciphertext == b"for bob's phone"
    assert b_laptop.messages(1)[0].ciphertext == b"for bob's laptop"
    assert a_laptop.messages(1)[0].ciphertext == b"shared", "no entry of its own: the shared one"
    for d in (a_phone, a_laptop, b_phone, b_laptop):
        d.close()


def test_an_oversize_send_is_refused_and_loses_nothing_accepted(region, names):
    from chat_support import Refused
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone")
    pb = a.pb
    conversation = direct(alice, bob)
    a.send(conversation, "small")
    with pytest.raises(Refused) as refused:
        a.send(conversation, "x" * (70 * 1024))
    assert refused.value.code == 0x97
    (status,) = a.statuses(1, kind=pb.Status.REFUSED)
    assert status.error.code == "too_large"
    a.send(conversation, "small again")
    assert [text_of(d) for d in b.messages(2)] == ["small", "small again"]
    a.close()
    b.close()

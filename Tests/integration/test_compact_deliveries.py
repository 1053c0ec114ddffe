"""Compact deliveries (issue 11 item 8, docs/decisions/0030): a device that
asks with q/deliveries.compact gets the short form of Delivery, one that does
not still gets every field; MQTT 3.1.1 and 5; a new connection starts over."""

import os
import time
import uuid

import pytest

from chat_support import Deployment, Device, direct, text_of, unique_names

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("region"), nodes=1)
    yield d
    d.stop()


@pytest.fixture
def names():
    return unique_names()


def ask_compact(device, on=True, timeout=20):
    """q/deliveries.compact with a request_id, which MQTT 3.1.1 and 5 both
    answer on d/<device>/a (no Response Topic needed); the CompactRefs."""
    req = device.pb.Request()
    req.request_id = uuid.uuid4().hex
    req.compact_deliveries.on = on
    info = device.client.publish("q/deliveries.compact", req.SerializeToString(), qos=1)
    device.wait_ack(info.mid, timeout)
    deadline = time.monotonic() + timeout
    while True:
        _, payload, _ = device.next(deadline - time.monotonic(), suffix="/a")
        resp = device.pb.Response()
        resp.ParseFromString(payload)
        if resp.request_id == req.request_id:
            assert not resp.HasField("error"), resp.error
            assert resp.WhichOneof("body") == "compact_refs"
            return resp.compact_refs


class Resolver:
    """The client's rule (docs/protocol.md, "Compact deliveries"), written
    from the protocol page: resolves compact deliveries in arrival order."""

    def __init__(self):
        self.generation = 0
        self.conversations = {}
        self.senders = {}

    def resolve(self, d):
        if d.conversation_ref == 0:
            return d
        if d.refs_generation:
            self.generation = d.refs_generation
            self.conversations, self.senders = {}, {}
        if d.conversation:
            self.conversations[d.conversation_ref] = [d.conversation, d.epoch]
        entry = self.conversations[d.conversation_ref]  # KeyError: not resolvable
        if d.epoch:
            entry[1] = d.epoch
        if d.sender_ref:
            if d.from_user or d.from_device:
                self.senders[d.sender_ref] = (d.from_user, d.from_device)
            user, device = self.senders[d.sender_ref]
        full = type(d)()
        full.CopyFrom(d)
        full.conversation, full.epoch = entry
        if d.sender_ref:
            full.from_user, full.from_device = user, device
        full.conversation_ref = full.sender_ref = full.refs_generation = 0
        return full


@pytest.mark.parametrize("version", [5, 3])
def test_a_compact_device_gets_the_short_form_and_a_default_one_every_field(region, names, version):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    phone = Device(region, bob, bob + "-phone", version=version)
    laptop = Device(region, bob, bob + "-laptop", version=version)
    refs = ask_compact(phone)
    assert (refs.on, refs.generation, list(refs.conversations)) == (True, 0, [])
    conversation = direct(alice, bob)

    cmids = [a.send(conversation, "m%d" % i) for i in range(3)]
    compact = phone.messages(3)
    full = laptop.messages(3)

    # The first compact delivery defines the refs; the next ones carry only them.
    first, second, third = compact
    assert (first.refs_generation, first.conversation_ref, first.conversation, first.epoch) == (1, 1, conversation, 1)
    assert (first.sender_ref, first.from_user, first.from_device) == (1, alice, alice + "-phone")
    for d in (second, third):
        assert (d.refs_generation, d.conversation_ref, d.conversation, d.epoch) == (0, 1, "", 0)
        assert (d.sender_ref, d.from_user, d.from_device) == (1, "", "")
    assert [d.seq for d in compact] == [1, 2, 3]
    assert [text_of(d) for d in compact] == ["m0", "m1", "m2"]
    assert all(d.server_time_ms > 0 and d.client_message_id == "" for d in compact)
    assert len(second.SerializeToString()) < len(full[1].SerializeToString()) - 40

    # The device that did not ask: every field, as relay.proto has always said.
    for d, cmid, seq in zip(full, cmids, [1, 2, 3]):
        assert (d.conversation, d.seq, d.from_user, d.from_device, d.client_message_id) == \
            (conversation, seq, alice, alice + "-phone", cmid)
        assert d.epoch >= 1 and d.server_time_ms > 0
        assert (d.conversation_ref, d.sender_ref, d.refs_generation) == (0, 0, 0)

    # Resolved by the protocol page's rule, the compact ones are the full ones,
    # but for another user's client message id.
    resolver = Resolver()
    for c, f in zip(compact, full):
        expected = type(f)()
        expected.CopyFrom(f)
        expected.client_message_id = ""
        assert resolver.resolve(c) == expected

    # From the user's own other device: a new sender ref, and the client message id kept.
    own = laptop.send(conversation, "from the laptop")
    (mine,) = phone.messages(1)
    assert (mine.conversation_ref, mine.conversation, mine.sender_ref) == (1, "", 2)
    assert (mine.from_user, mine.from_device, mine.client_message_id) == (bob, bob + "-laptop", own)
    assert resolver.resolve(mine).conversation == conversation

    # The table as the relay holds it.
    refs = ask_compact(phone)
    assert (refs.on, refs.generation, list(refs.conversations)) == (True, 1, [conversation])
    assert [(s.user, s.device) for s in refs.senders] == [(alice, alice + "-phone"), (bob, bob + "-laptop")]

    # Off again: every field.
    ask_compact(phone, on=False)
    a.send(conversation, "full again")
    (again,) = phone.messages(1)
    assert (again.conversation, again.from_user, again.conversation_ref) == (conversation, alice, 0)
    for d in (a, phone, laptop):
        d.close()


def wait_offline(watcher, user, timeout=15):
    """Until the relay has ended user's connection (presence offline), so that
    the next connection is a new MQTT session, not a resumed one."""
    query = watcher.pb.PresenceQuery(user=user)
    deadline = time.monotonic() + timeout
    while True:
        resp = watcher.request("presence.get", presence_query=query)
        assert not resp.HasField("error"), resp.error
        if not resp.presence.online:
            return
        assert time.monotonic() < deadline, "%s still online" % user
        time.sleep(0.1)  # polling the relay's state, bounded by the deadline


@pytest.mark.parametrize("version", [5, 3])
def test_a_new_connection_starts_with_the_full_form_and_a_new_table(region, names, version):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone", version=version)
    conversation = direct(alice, bob)
    ask_compact(b)
    a.send(conversation, "before")
    (before,) = b.messages(1)
    assert before.conversation_ref == 1 and before.refs_generation == 1
    b.close()
    wait_offline(a, bob)

    # Sent while bob is away: waits in the store, not in any table.
    a.send(conversation, "while away 1")
    a.send(conversation, "while away 2")
    b = Device(region, bob, bob + "-phone", version=version)
    # A new connection is a new session (the relay keeps none): nothing asked yet, every field.
    away = b.messages(2)
    assert [(d.conversation, d.from_user, d.conversation_ref) for d in away] == [(conversation, alice, 0)] * 2
    assert [text_of(d) for d in away] == ["while away 1", "while away 2"]

    # Asked again: a fresh table, whose first delivery defines its refs (nothing
    # refers to the old connection's), resolvable by a client that starts empty.
    refs = ask_compact(b)
    assert (refs.generation, list(refs.conversations)) == (0, [])
    a.send(conversation, "after")
    a.send(conversation, "after 2")
    after = b.messages(2)
    assert (after[0].refs_generation, after[0].conversation, after[0].from_user) == (1, conversation, alice)
    resolver = Resolver()
    assert [(r.conversation, r.seq, r.from_device, text_of(r)) for r in map(resolver.resolve, after)] == \
        [(conversation, 4, alice + "-phone", "after"), (conversation, 5, alice + "-phone", "after 2")]
    a.close()
    b.close()


@pytest.mark.parametrize("version", [5, 3])
def test_a_takeover_is_a_new_session_whose_deliveries_never_use_the_old_table(region, names, version):
    """A device that takes its own live connection over (Clean Start 0, the
    old connection still open, its last delivery perhaps unacknowledged)
    gets a new MQTT session from `relay serve` (Session Present 0): what
    comes on the new connection is full until it asks again, and then a new
    table; nothing refers to the old connection's refs."""
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    first = Device(region, bob, bob + "-phone", version=version)
    conversation = direct(alice, bob)
    ask_compact(first)
    a.send(conversation, "before")
    (before,) = first.messages(1)
    assert before.conversation_ref == 1
    # The old connection stays open on the relay's side (no DISCONNECT), and its client does not reconnect.
    first.client.loop_stop()
    a.send(conversation, "during the takeover")  # may reach the old connection and never be acknowledged

    second = Device(region, bob, bob + "-phone", version=version, connect=False)
    flags = []
    connected = second.client.on_connect
    second.client.on_connect = lambda c, u, f, rc, *p: (flags.append(dict(f)), connected(c, u, f, rc, *p))
    second.connect()
    assert flags and flags[0].get("session present") == 0, flags

    # Seq 2 again (or for the first time), and maybe seq 1 again: all full.
    got = []
    while not got or got[-1].seq < 2:
        (d,) = second.messages(1)
        got.append(d)
    assert all((d.conversation_ref, d.conversation, d.from_user) == (0, conversation, alice) for d in got), got
    assert text_of(got[-1]) == "during the takeover"

    ask_compact(second)
    a.send(conversation, "after")
    (after,) = second.messages(1)
    assert (after.refs_generation, after.conversation_ref, after.conversation, after.seq) == (1, 1, conversation, 3)
    assert Resolver().resolve(after).from_device == alice + "-phone"
    a.close()
    second.close()

"""Chat across regions (issue 4): homes and redirects, the replication
stream between real relays and redis-servers, failover, fencing and
failback. Every device is a real paho MQTT client."""

import time

import paho.mqtt.client as mqtt
import pytest

from chat_support import HOST, Device, direct, text_of, unique_names
from regions_support import TOPOLOGY, Cluster


@pytest.fixture
def cluster(tmp_path):
    # The shipped topology's link delays (80-200 ms) through the delay proxies.
    c = Cluster(tmp_path, proxies=True, rtt_ms=TOPOLOGY)
    yield c
    c.stop()


def online(region, user, device):
    return Device(region, user, device)


def texts(deliveries):
    return [text_of(d) for d in deliveries]


def test_direct_conversation_across_regions_in_order_with_statuses(cluster):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    a = online(cluster["us-east"], alice, alice + "-phone")
    b = online(cluster["eu-west"], bob, bob + "-phone")
    conv = direct(alice, bob)
    sent = ["hello %d" % i for i in range(20)]
    for text in sent:
        a.send(conv, text)
    got = b.messages(20, timeout=30)
    assert texts(got) == sent
    assert [d.seq for d in got] == list(range(1, 21))
    # The sender hears SEQUENCED for its own sends and DELIVERED from the other region.
    statuses = a.statuses(40, timeout=30)
    Status = a.pb.Status
    assert sorted(s.seq for s in statuses if s.kind == Status.SEQUENCED) == list(range(1, 21))
    delivered = [s for s in statuses if s.kind == Status.DELIVERED]
    assert sorted(s.seq for s in delivered) == list(range(1, 21)) and {s.user for s in delivered} == {bob}
    # And back: eu-west forwards to the conversation's home (alice's, us-east).
    b.send(conv, "hi from eu-west")
    back = a.messages(1, timeout=30)
    assert texts(back) == ["hi from eu-west"] and back[0].seq == 21
    # A read receipt travels to the home and on to the sender.
    b.client.publish("r/" + conv, receipt(b, 21), qos=1)
    read = a.statuses(1, kind=a.pb.Status.READ, timeout=30)
    assert read[0].user == bob and read[0].seq == 21
    a.close(); b.close()


def receipt(device, seq):
    r = device.pb.Receipt()
    r.read_up_to_seq = seq
    return r.SerializeToString()


def test_group_with_members_in_three_regions_sees_one_order(cluster):
    n = unique_names()
    alice, bob, carol = n("alice"), n("bob"), n("carol")
    a = online(cluster["us-east"], alice, alice + "-d")
    b = online(cluster["eu-west"], bob, bob + "-d")
    c = online(cluster["ap-south"], carol, carol + "-d")
    created = c.request("group.create", group_create=c.pb.GroupCreate(members=[alice, bob]))
    group = created.group.conversation
    assert sorted(created.group.members) == sorted([alice, bob, carol])
    for d in (a, b):  # the membership event reaches the other regions' devices
        _, payload, _ = d.next(30, suffix="/e")
        event = d.pb.Event()
        event.ParseFromString(payload)
        assert event.membership.conversation == group
    for i in range(5):
        a.send(group, "a%d" % i)
        b.send(group, "b%d" % i)
        c.send(group, "c%d" % i)
    seen = {}
    for name, d in (("a", a), ("b", b), ("c", c)):
        got = []
        try:
            while len(got) < 10:
                got += d.messages(1, timeout=30)
        except AssertionError:
            raise AssertionError("%s got only %s; disconnects %s" % (name, [(m.seq, text_of(m)) for m in got], list(d.disconnects.queue)))
        seen[name] = [(m.seq, text_of(m)) for m in got]
        assert [s for s, _ in seen[name]] == sorted(s for s, _ in seen[name]), "out of order at %s" % name
    # Every member saw the others' messages with the same seqs.
    everything = {}
    for name in seen:
        for seq, text in seen[name]:
            assert everything.setdefault(seq, text) == text
    assert len(everything) == 15 and sorted(everything) == list(range(1, 16))
    for d in (a, b, c):
        d.close()


def connack_of(region, token, user, device, port=None):
    got = {}
    client = mqtt.Client(client_id=device, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, token)

    def on_connect(client, userdata, flags, rc, properties=None):
        got["rc"] = rc.value if hasattr(rc, "value") else rc
        got["properties"] = properties
    client.on_connect = on_connect
    client.connect(HOST, port or region.devices_port)
    deadline = time.monotonic() + 20
    while "rc" not in got and time.monotonic() < deadline:
        client.loop(timeout=0.2)
    client.disconnect()
    assert "rc" in got, "no CONNACK"
    return got


def test_a_device_connecting_outside_its_home_is_redirected(cluster):
    bob = unique_names()("bob")
    eu = cluster["eu-west"]
    got = connack_of(cluster["us-east"], eu.token(bob, bob + "-d"), bob, bob + "-d")
    assert got["rc"] == 0x9C
    assert got["properties"].ServerReference == "%s:%d" % (HOST, eu.devices_port)


def test_devices_cannot_reach_the_peer_listener(cluster):
    bob = unique_names()("bob")
    eu = cluster["eu-west"]
    got = connack_of(eu, eu.token(bob, bob + "-d"), bob, bob + "-d", port=eu.peers_port)
    assert got["rc"] in (0x86, 0x87)


def test_failover_of_a_live_region_fences_it_and_moves_its_devices(cluster):
    n = unique_names()
    alice, carol = n("alice"), n("carol")
    us, eu, ap = cluster["us-east"], cluster["eu-west"], cluster["ap-south"]
    a = online(us, alice, alice + "-d")
    c = online(ap, carol, carol + "-d")
    conv = direct(alice, carol)
    a.send(conv, "before")
    assert texts(c.messages(1, timeout=30)) == ["before"]
    wait_mirrored(eu, alice + "-d")

    out = cluster.relayctl("failover", "--region", "us-east", "--json")
    assert '"servedBy":"eu-west"' in out.stdout.replace(" ", "")
    # The fenced region sends its device to the standby ...
    reason = a.disconnects.get(timeout=30)
    assert reason == 0x9C
    a.close()
    # ... and refuses it from now on, with the standby's address.
    got = connack_of(us, us.token(alice, alice + "-d"), alice, alice + "-d")
    assert got["rc"] == 0x9C and got["properties"].ServerReference == "%s:%d" % (HOST, eu.devices_port)
    # At the standby the device keeps its conversation, under a new epoch.
    a2 = Device(us, alice, alice + "-d", connect=False)  # its token says home us-east
    a2.connect(port=eu.devices_port)
    a2.send(conv, "after")
    got = c.messages(1, timeout=30)
    assert texts(got) == ["after"] and got[0].seq == 2 and got[0].epoch == 2
    c.send(conv, "reply")
    assert texts(a2.messages(1, timeout=30)) == ["reply"]
    a2.close(); c.close()


def wait_mirrored(region, device, timeout=30):
    """The standby knows the device (its registration was mirrored)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        users = region.redis_cli("HKEYS", "dir:users").split()
        if users and region.redis_cli("KEYS", "{u:*}:devices") and device in region.redis_cli("EVAL", "local out={} for _,k in ipairs(redis.call('KEYS','{u:*}:devices')) do for _,d in ipairs(redis.call('SMEMBERS',k)) do table.insert(out,d) end end return table.concat(out,' ')", 0):
            return
        time.sleep(0.05)  # polling another process's Redis, under a deadline
    raise AssertionError("%s was not mirrored to %s" % (device, region.name))


def connack_when_settled(region, token, user, device, timeout=30):
    """CONNACK once the region has heard its peers (0x88 until then)."""
    deadline = time.monotonic() + timeout
    while True:
        got = connack_of(region, token, user, device)
        if got["rc"] != 0x88 or time.monotonic() > deadline:
            return got
        time.sleep(0.1)  # the region is still starting: retry, bounded


@pytest.fixture
def sync_cluster(tmp_path):
    c = Cluster(tmp_path, mirror="sync", proxies=True, rtt_ms=TOPOLOGY)
    yield c
    c.stop()


def test_killed_region_fails_over_comes_back_fenced_and_fails_back_without_loss(sync_cluster):
    cluster = sync_cluster
    n = unique_names()
    alice, carol = n("alice"), n("carol")
    us, eu, ap = cluster["us-east"], cluster["eu-west"], cluster["ap-south"]
    conv = direct(alice, carol)  # alice sorts first: the conversation lives in us-east
    a = online(us, alice, alice + "-d")
    c = online(ap, carol, carol + "-d")
    sent = []
    for i in range(10):
        sent.append("before %d" % i)
        a.send(conv, sent[-1])  # sync mirroring: acknowledged once eu-west has it
    received = c.messages(10, timeout=30)
    a.close()

    us.kill()
    out = cluster.relayctl("failover", "--region", "us-east")
    assert "failed over to eu-west" in out.stdout

    a = Device(us, alice, alice + "-d", connect=False)  # token: home us-east
    a.connect(port=eu.devices_port)
    for i in range(5):
        sent.append("during %d" % i)
        a.send(conv, sent[-1])
    during = c.messages(5, timeout=30)
    assert [m.epoch for m in during] == [2] * 5 and [m.seq for m in during] == list(range(11, 16))
    received += during
    c.send(conv, "to alice at the standby")
    assert texts(a.messages(1, timeout=30)) == ["to alice at the standby"]  # seq 16
    a.close()

    # us-east comes back with its data: before any write it learns it was failed over.
    us.start_redis()
    us.start_relay()
    got = connack_when_settled(us, us.token(alice, alice + "-d"), alice, alice + "-d")
    assert got["rc"] == 0x9C and got["properties"].ServerReference == "%s:%d" % (HOST, eu.devices_port)

    out = cluster.relayctl("failback", "--region", "us-east", "--json", "--timeout", "60")
    assert '"servedBy":"eu-west"' in out.stdout.replace(" ", "")
    a = Device(us, alice, alice + "-d")
    sent.append("after failback")
    a.send(conv, sent[-1])
    after = c.messages(1, timeout=30)
    assert after[0].epoch == 4 and after[0].seq == 17
    received += after
    # Nothing acknowledged was lost, nothing came twice, and the order held.
    assert texts(received) == sent
    keys = [(m.epoch, m.seq) for m in received]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    a.close(); c.close()


@pytest.fixture
def linked_cluster(tmp_path):
    c = Cluster(tmp_path, names=("us-east", "eu-west"), proxies=True, rtt_ms=TOPOLOGY)
    yield c
    c.stop()


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_cut_link_holds_frames_in_the_outbox_and_a_heal_delivers_them_in_order(linked_cluster):
    cluster = linked_cluster
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    us, eu = cluster["us-east"], cluster["eu-west"]
    a = online(us, alice, alice + "-d")
    b = online(eu, bob, bob + "-d")
    conv = direct(alice, bob)
    a.send(conv, "through the proxy")
    assert texts(b.messages(1, timeout=30)) == ["through the proxy"]

    cluster.link("cut", "us-east", "eu-west")
    held = ["held %d" % i for i in range(5)]
    for text in held:
        a.send(conv, text)  # accepted: the outbox is durable
    with pytest.raises(AssertionError):
        b.messages(1, timeout=1.5)  # nothing crosses a cut link
    deadline = time.monotonic() + 20
    while (metric(us.metrics(), "relay_replication_outbox_frames", peer="eu-west") or 0) < 1:
        assert time.monotonic() < deadline, "the outbox gauge never showed the held frames"
        time.sleep(0.2)  # the gauge refreshes every second: poll it, bounded
    cluster.link("heal", "us-east", "eu-west")
    got = b.messages(5, timeout=60)
    assert texts(got) == held and [m.seq for m in got] == [2, 3, 4, 5, 6]
    a.close(); b.close()


def test_presence_typing_and_history_across_regions(cluster):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    a = online(cluster["us-east"], alice, alice + "-d")
    b = online(cluster["eu-west"], bob, bob + "-d")
    pb = b.pb
    conv = direct(alice, bob)
    for i in range(3):
        a.send(conv, "h%d" % i)
    assert texts(b.messages(3, timeout=30)) == ["h0", "h1", "h2"]
    # History from eu-west's copy of a conversation that lives in us-east.
    resp = b.request("history.sync", history_sync=pb.HistorySync(conversation=conv, limit=10))
    assert not resp.HasField("error"), resp.error
    assert [text_of(m) for m in resp.history.messages] == ["h0", "h1", "h2"]
    # Presence of a user of another region (best effort: from what us-east told eu-west).
    resp = b.request("presence.get", presence_query=pb.PresenceQuery(user=alice))
    assert not resp.HasField("error"), resp.error
    assert resp.presence.user == alice and resp.presence.online
    # Typing crosses too.
    t = pb.Typing()
    t.typing = True
    a.client.publish("t/" + conv, t.SerializeToString(), qos=0)
    _, payload, _ = b.next(30, suffix="/t")
    event = pb.TypingEvent()
    event.ParseFromString(payload)
    assert event.user == alice and event.typing
    # Bob watches alice: her going away reaches him from us-east.
    a.close()
    while True:
        _, payload, _ = b.next(30, suffix="/p")
        p = pb.Presence()
        p.ParseFromString(payload)
        if p.user == alice and not p.online:
            break
    assert p.last_seen_ms > 0
    b.close()


def test_a_send_acknowledged_while_its_home_is_down_is_sequenced_at_the_failover_without_the_home(cluster):
    """A device of eu-west sends (and reads) in a conversation of us-east while
    us-east is down: acknowledged once in eu-west's outbox to us-east. At the
    failover eu-west takes the forwarded send and receipt out of that outbox
    and applies them itself, with us-east still down (they waited for it to
    come back; before that, they were refused as frames of a failed-over
    region, and lost). When us-east comes back and passes the same frames
    on, dedup keeps the send from being delivered twice."""
    n = unique_names()
    alice, bob = n("alice"), n("bob")  # alice sorts first: the conversation lives in us-east
    us, eu = cluster["us-east"], cluster["eu-west"]
    conv = direct(alice, bob)
    a = online(us, alice, alice + "-d")
    b = online(eu, bob, bob + "-d")
    a.send(conv, "before")
    assert texts(b.messages(1, timeout=30)) == ["before"]
    a.close()
    us.kill()
    b.send(conv, "while us-east is down")  # acknowledged: waits in eu-west's outbox to us-east
    info = b.client.publish("r/" + conv, b.pb.Receipt(epoch=1, read_up_to_seq=1).SerializeToString(), qos=1)
    b.wait_ack(info.mid)  # so does bob's read receipt
    out = cluster.relayctl("failover", "--region", "us-east")
    assert "failed over to eu-west" in out.stdout
    a = Device(us, alice, alice + "-d", connect=False)  # token: home us-east
    a.connect(port=eu.devices_port)
    got, read = None, None
    deadline = time.monotonic() + 30
    while got is None or read is None:
        topic, payload, _ = a.next(deadline - time.monotonic())
        if topic.endswith("/m"):
            got = a.pb.Delivery.FromString(payload)
        elif topic.endswith("/s") and a.pb.Status.FromString(payload).kind == a.pb.Status.READ:
            read = a.pb.Status.FromString(payload)
    assert texts([got]) == ["while us-east is down"]
    assert (got.epoch, got.seq) == (2, 2)
    assert (read.user, read.seq) == (bob, 1)

    # us-east returns and passes the frame on; eu-west has it already.
    us.start_redis()
    us.start_relay()
    wait_caught_up(eu, us)
    wait_caught_up(us, eu)
    b.send(conv, "after")
    got = a.messages(1, timeout=30)
    assert texts(got) == ["after"] and got[0].seq == 3, "the passed-on copy was delivered again"
    a.close(); b.close()


def wait_caught_up(sender, receiver, timeout=30):
    """`receiver` applied every frame `sender` had queued for it when called."""
    appended = int(sender.redis_cli("GET", "{r:%s}:n" % receiver.name) or 0)
    deadline = time.monotonic() + timeout
    while int(receiver.redis_cli("GET", "r:in:%s" % sender.name) or 0) < appended:
        assert time.monotonic() < deadline, "%s did not apply %s's frames up to %d" % (receiver.name, sender.name, appended)
        time.sleep(0.05)  # another process's Redis: poll, bounded

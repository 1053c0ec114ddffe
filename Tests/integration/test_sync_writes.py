"""Sync mode means zero acknowledged loss for every kind of write (issue 12,
item 1), on the shipped topology's link delays: a receipt's PUBACK and a
group change's answer come only once the regions its frames go to have
them, so a region killed (relay and Redis, SIGKILL) right after the
acknowledgement loses nothing of it. Without the wait, the frames would
still sit in the killed region's outbox (200 ms round trip to ap-south).
Key uploads and the one-time prekeys handed out are mirrored the same way:
after the home's loss its standby hands out the keys, never a prekey twice."""

import time

import pytest

from chat_support import Device, direct, unique_names
from regions_support import TOPOLOGY, Cluster
from signal_keys import LAST_RESORT_ID, SignalKeys


@pytest.fixture
def sync_cluster(tmp_path):
    c = Cluster(tmp_path, mirror="sync", proxies=True, rtt_ms=TOPOLOGY)
    yield c
    c.stop()


def names_sorted(n, first, second):
    """Two user names where `first` sorts first (it homes their 1:1)."""
    a, b = n(first), n(second)
    if a > b:
        a, b = b, a
    return a, b


def test_a_receipt_acknowledged_survives_the_loss_of_the_readers_region(sync_cluster):
    cluster = sync_cluster
    n = unique_names()
    # x (ap-south) sorts first: the conversation is sequenced in ap-south.
    x_user, y_user = names_sorted(n, "a", "z")
    ap, us = cluster["ap-south"], cluster["us-east"]
    x = Device(ap, x_user, x_user + "-d")
    y = Device(us, y_user, y_user + "-d")
    pb = x.pb
    conv = direct(x_user, y_user)
    x.send(conv, "read me")
    (got,) = y.messages(1, timeout=30)
    receipt = pb.Receipt(epoch=got.epoch, read_up_to_seq=got.seq).SerializeToString()
    # y reads it from us-east: forwarded to ap-south, and the PUBACK waits for
    # ap-south. With the link cut it cannot come: the receipt is refused (retry).
    cluster.link("cut", "us-east", "ap-south")
    info = y.client.publish("r/" + conv, receipt, qos=1)
    y.wait_ack(info.mid, timeout=30)
    assert getattr(y, "puback_codes", {}).get(info.mid, 0) >= 0x80
    cluster.link("heal", "us-east", "ap-south")
    info = y.client.publish("r/" + conv, receipt, qos=1)
    y.wait_ack(info.mid, timeout=30)
    assert getattr(y, "puback_codes", {}).get(info.mid, 0) == 0
    us.kill()
    (read,) = x.statuses(1, kind=pb.Status.READ, timeout=30)
    assert (read.conversation, read.seq, read.user) == (conv, got.seq, y_user)
    x.close()


def test_a_group_change_answered_survives_the_loss_of_its_home(sync_cluster):
    cluster = sync_cluster
    n = unique_names()
    creator, member = n("creator"), n("member")
    us, ap = cluster["us-east"], cluster["ap-south"]
    c = Device(us, creator, creator + "-d")
    m = Device(ap, member, member + "-d")
    pb = c.pb
    # The directory must know the member's home before the group names it.
    c.send(direct(creator, member), "hello")
    m.messages(1, timeout=30)
    first = c.request("group.create", group_create=pb.GroupCreate(members=[member]), timeout=30)
    assert first.HasField("group") and not first.error.code, first
    # With ap-south cut off, the answer cannot confirm a change: an error to retry on.
    cluster.link("cut", "us-east", "ap-south")
    resp = c.request("group.admins", group_admins=pb.GroupMembers(conversation=first.group.conversation, users=[member]), timeout=30)
    assert resp.error.code == "unavailable", resp
    cluster.link("heal", "us-east", "ap-south")
    resp = c.request("group.create", group_create=pb.GroupCreate(members=[member]), timeout=30)
    assert resp.HasField("group") and not resp.error.code, resp
    group = resp.group.conversation
    # Answered: ap-south has the group's state and its member's event, whatever happens to us-east now.
    us.kill()
    while True:
        topic, payload, _ = m.next(30, suffix="/e")  # bounded: fails after 30 s
        event = pb.Event()
        event.ParseFromString(payload)
        if event.HasField("membership") and event.membership.conversation == group:
            assert event.membership.change == pb.MembershipEvent.CREATED
            break
    m.close()


def fetch_until_answered(device, user, timeout=60):
    """keys.fetch, asked again while the answer is `unavailable` (the
    regions are still learning of a failover); every wait bounded."""
    deadline = time.monotonic() + timeout
    while True:
        resp = device.request("keys.fetch", timeout=30, keys_fetch=device.pb.KeysFetch(user=user))
        if not (resp.HasField("error") and resp.error.code == "unavailable"):
            return resp
        assert time.monotonic() < deadline, "keys.fetch still unavailable: %s" % resp.error


def one_time_id(resp):
    assert not resp.HasField("error"), resp.error
    [bundle] = resp.key_bundles.bundles
    if bundle.HasField("one_time_prekey"):
        return bundle.one_time_prekey.id
    assert bundle.last_resort_prekey.id == LAST_RESORT_ID
    return None


def test_keys_uploaded_and_prekeys_handed_out_survive_the_loss_of_the_home(sync_cluster):
    cluster = sync_cluster
    n = unique_names()
    alice, bob, dave = n("alice"), n("bob"), n("dave")
    us, eu, ap = cluster["us-east"], cluster["eu-west"], cluster["ap-south"]
    a = Device(us, alice, alice + "-phone")
    b = Device(ap, bob, bob + "-phone")
    d = Device(us, dave, dave + "-phone")
    # ap-south learns alice's home (us-east) from her message; its directory
    # entry is written beside the message's apply, so wait for it (a fetch
    # for a user whose home a region does not know is answered there).
    a.send(direct(alice, bob), "hi bob")
    b.messages(1, timeout=30)
    deadline = time.monotonic() + 30
    while ap.redis_cli("HGET", "dir:users", alice) != "us-east":
        assert time.monotonic() < deadline, "ap-south never learned alice's home"
        time.sleep(0.05)  # another process's Redis: polled under a deadline
    keys = SignalKeys(a.pb)
    keys.one_time = [keys.one_time_prekey(i) for i in (1, 2, 3)]
    resp = a.request("keys.upload", timeout=30, keys_upload=keys.upload())
    assert not resp.HasField("error"), resp.error
    # Two prekeys handed out by us-east: one to ap-south (KeysRequest), one here.
    handed = [one_time_id(fetch_until_answered(b, alice)), one_time_id(fetch_until_answered(d, alice))]
    a.close(); d.close()
    # Answered: eu-west (the standby) has the keys and knows these two went,
    # whatever happens to us-east now.
    us.kill()
    out = cluster.relayctl("failover", "--region", "us-east")
    assert "failed over to eu-west" in out.stdout
    # ap-south now asks eu-west, which serves alice's home.
    handed.append(one_time_id(fetch_until_answered(b, alice)))
    handed.append(one_time_id(fetch_until_answered(b, alice)))
    assert sorted(handed[:3]) == [1, 2, 3], "a one-time prekey was handed out twice or lost: %s" % handed
    assert handed[3] is None, "after the failover a prekey came again: %s" % handed
    b.close()

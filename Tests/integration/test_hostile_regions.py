"""Issue 10 across regions, through delay proxies with the shipped topology's
us-east <-> eu-west round trip (80 ms): a note to self is mirrored to the
standby without taking it down, and what a device sends that could never be
applied is refused at its own region's edge."""

import os
import time

import pytest

from chat_support import Device, direct, text_of, unique_names
from regions_support import TOPOLOGY, Cluster

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

TWO_TO_63 = 1 << 63


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("hostile-regions"), names=("us-east", "eu-west"),
                standbys={"us-east": "eu-west", "eu-west": "us-east"}, proxies=True, rtt_ms=TOPOLOGY)
    yield c
    c.stop()


def alive(cluster):
    for region in cluster.regions.values():
        for node in region.nodes:
            assert node.proc.poll() is None, "%s died:\n%s" % (region.name, region.logs())


def test_a_note_to_self_reaches_the_standby_which_keeps_serving(cluster):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    phone = Device(cluster["us-east"], alice, alice + "-phone")
    laptop = Device(cluster["us-east"], alice, alice + "-laptop")
    note = direct(alice, alice)
    phone.send(note, "to myself")
    assert text_of(laptop.messages(1, timeout=30)[0]) == "to myself"
    # eu-west, the standby, applies the mirrored copy (it used to crash doing so).
    deadline = time.monotonic() + 30
    while cluster["eu-west"].redis_cli("EXISTS", "{c:%s}:m:1" % note) != "1":
        assert time.monotonic() < deadline, "the standby never had the note:\n%s" % cluster.logs()
        time.sleep(0.1)  # another region's Redis: poll, bounded
    alive(cluster)
    # And keeps working: a message between the regions, both ways.
    b = Device(cluster["eu-west"], bob, bob + "-phone")
    phone.send(direct(alice, bob), "after the note")
    assert text_of(b.messages(1, timeout=30)[0]) == "after the note"
    alive(cluster)


def test_values_that_could_never_apply_are_refused_in_the_senders_region(cluster):
    n = unique_names()
    alice, bob, mallory = n("alice"), n("bob"), n("mallory")
    a = Device(cluster["us-east"], alice, alice + "-phone")
    b = Device(cluster["eu-west"], bob, bob + "-phone")
    m = Device(cluster["eu-west"], mallory, mallory + "-phone")
    conversation = direct(alice, bob)  # homed in us-east, alice's region
    a.send(conversation, "hello")
    b.messages(1, timeout=30)
    pb = b.pb
    # A send from eu-west that us-east would have crashed applying: refused before it is forwarded.
    send = pb.Send(client_message_id="far", ciphertext=b"\x01", reply_to_seq=TWO_TO_63)
    info = b.client.publish("s/" + conversation, send.SerializeToString(), qos=1)
    b.wait_ack(info.mid, timeout=30)
    assert b.puback_codes[info.mid] == 0x99
    # A receipt past 2^53 from the reader, and any receipt from a non-member: refused here.
    info = b.client.publish("r/" + conversation, pb.Receipt(epoch=1, read_up_to_seq=TWO_TO_63).SerializeToString(), qos=1)
    b.wait_ack(info.mid, timeout=30)
    assert b.puback_codes[info.mid] == 0x99
    info = m.client.publish("r/" + conversation, pb.Receipt(epoch=1, read_up_to_seq=1).SerializeToString(), qos=1)
    m.wait_ack(info.mid, timeout=30)
    assert m.puback_codes[info.mid] == 0x87
    # The link still carries what comes after.
    b.send(conversation, "still flowing")
    assert text_of(a.messages(1, timeout=30)[0]) == "still flowing"
    assert cluster["us-east"].redis_cli("ZCARD", "r:dead") == "0"
    alive(cluster)


def test_refusals_across_regions_name_what_is_wrong(cluster):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    a = Device(cluster["us-east"], alice, alice + "-phone")
    b = Device(cluster["eu-west"], bob, bob + "-phone")
    pb = a.pb
    # A group no region knows: 0x87, as in one region (it used to be 0x80).
    info = b.client.publish("s/gnosuchgroup" + n("g").replace("-", ""), pb.Send(client_message_id="g-1", ciphertext=b"\x01").SerializeToString(), qos=1)
    b.wait_ack(info.mid, timeout=30)
    assert b.puback_codes[info.mid] == 0x87 and b.puback_reasons[info.mid].startswith("not_member"), b.puback_reasons.get(info.mid)
    # A group homed in us-east: bob (a member, not an admin) asks from eu-west to add someone.
    created = a.request("group.create", group_create=pb.GroupCreate(members=[bob]))
    group = created.group.conversation
    b.next(30, suffix="/e")  # the membership event: eu-west has the group's members now
    resp = b.request("group.add", timeout=30, group_add=pb.GroupMembers(conversation=group, users=[n("carol")]))
    assert resp.error.code == "not_admin", resp
    # alice, the admin, asking from her own region, may.
    resp = a.request("group.add", timeout=30, group_add=pb.GroupMembers(conversation=group, users=[n("carol")]))
    assert not resp.HasField("error"), resp.error
    alive(cluster)

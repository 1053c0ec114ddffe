"""Issue 12 items 4 and 5 on the shipped topology's link delays (delay
proxies at topology.json's round trips: us-east<->eu-west 80 ms,
us-east<->ap-south 200 ms, eu-west<->ap-south 150 ms).

Pipelined links: a burst crosses each link with several batches in flight
and arrives once, in order. Bounded outboxes: with a peer down, the outbox
reaches its cap, the link is declared broken (memory given back, frames
discarded and counted, /readyz and /metrics say so, sends still served);
the peer comes back and still gets nothing until the operator resets the
link, after which replication resumes."""

import json
import os
import re
import signal
import time
import urllib.request

import pytest

from chat_support import HOST, Device, direct, text_of, unique_names
from regions_support import Cluster, topology_rtts

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


def readyz(region):
    with urllib.request.urlopen("http://%s:%d/readyz" % (HOST, region.http_port), timeout=10) as r:
        return r.status, r.read().decode()


def metric(region, name, peer):
    pattern = re.compile(r'^%s\{[^}]*peer="%s"[^}]*\} ([0-9.e+-]+)$' % (re.escape(name), re.escape(peer)), re.M)
    found = pattern.search(region.metrics())
    return float(found.group(1)) if found else None


def wait_until(what, check, cluster, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "%s never happened:\n%s" % (what, cluster.logs())
        time.sleep(0.1)  # another process's state: poll, bounded


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("links"), proxies=True, rtt_ms=topology_rtts())
    yield c
    c.stop()


def burst(sender, conversation, texts):
    """Publishes every text without waiting, then waits for every PUBACK."""
    mids = []
    for text in texts:
        send = sender.pb.Send(client_message_id=text, ciphertext=bytes(b ^ 0x5A for b in text.encode()))
        mids.append(sender.client.publish("s/" + conversation, send.SerializeToString(), qos=1).mid)
    for mid in mids:
        sender.wait_ack(mid, timeout=60)
        assert sender.puback_codes.get(mid, 0) == 0


@pytest.mark.parametrize("far", ["eu-west", "ap-south"])
def test_a_burst_crosses_a_delayed_link_once_and_in_order_both_ways(world, far):
    n = unique_names()
    alice, zoe = n("a-alice"), n("z-zoe")  # the conversation's home is alice's: us-east
    a = Device(world["us-east"], alice, alice + "-phone")
    z = Device(world[far], zoe, zoe + "-phone")
    conversation = direct(alice, zoe)
    a.send(conversation, "first")
    assert text_of(z.messages(1, timeout=30)[0]) == "first"

    # Sequenced in us-east, replicated to the far region.
    texts = ["there-%03d" % i for i in range(150)]
    burst(a, conversation, texts)
    got = z.messages(len(texts), timeout=60)
    # Once each, in the order the home sequenced them (which need not be the
    # order of the PUBLISHes: one device's sends are accepted concurrently).
    assert [d.seq for d in got] == list(range(2, 2 + len(texts))), [(d.seq, text_of(d)) for d in got]
    assert sorted(text_of(d) for d in got) == texts
    # Forwarded from the far region to us-east, sequenced there, delivered back.
    back = ["back-%03d" % i for i in range(150)]
    burst(z, conversation, back)
    got = a.messages(len(back), timeout=60)
    assert [d.seq for d in got] == list(range(2 + len(texts), 2 + len(texts) + len(back))), [(d.seq, text_of(d)) for d in got]
    assert sorted(text_of(d) for d in got) == back
    # Every link still up, nothing refused or set aside.
    for region in world.regions.values():
        assert region.redis_cli("ZCARD", "r:dead") == "0"
    status, body = readyz(world["us-east"])
    assert status == 200 and "BROKEN" not in body and "DOWN" not in body, body


CAP_FRAMES = 40


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    rtts = topology_rtts()
    c = Cluster(tmp_path_factory.mktemp("capped"), names=("us-east", "eu-west"),
                standbys={"us-east": "eu-west", "eu-west": "us-east"}, proxies=True,
                rtt_ms=rtts[("eu-west", "us-east")], settings={"outboxMaxFrames": CAP_FRAMES})
    yield c
    c.stop()


def test_an_outbox_towards_a_region_that_is_down_breaks_the_link_at_its_cap(capped):
    us, eu = capped["us-east"], capped["eu-west"]
    n = unique_names()
    alice = n("alice")
    phone = Device(us, alice, alice + "-phone")
    laptop = Device(us, alice, alice + "-laptop")
    note = direct(alice, alice)  # mirrored to eu-west, us-east's standby
    phone.send(note, "before")
    laptop.messages(1, timeout=30)
    wait_until("eu-west applied everything", lambda: eu.redis_cli("GET", "r:in:us-east") == us.redis_cli("GET", "{r:eu-west}:n"), capped)

    # eu-west is down: us-east keeps serving, its outbox to eu-west fills up.
    for node in eu.nodes:
        node.stop(signal.SIGKILL)
    sent = 0
    while us.redis_cli("EXISTS", "{r:eu-west}:broken") != "1":
        assert sent < 5 * CAP_FRAMES, "the outbox never reached its cap of %d frames:\n%s" % (CAP_FRAMES, capped.logs())
        phone.send(note, "while down %d" % sent)  # still acknowledged
        sent += 1
    assert [text_of(d) for d in laptop.messages(sent, timeout=30)] == ["while down %d" % i for i in range(sent)]

    # What the operator sees: the memory is given back, the loss counted, the link BROKEN.
    assert us.redis_cli("XLEN", "{r:eu-west}:out") == "0"
    broken = dict(zip(*[iter(us.redis_cli("HGETALL", "{r:eu-west}:broken").split("\n"))] * 2))
    assert int(broken["frames"]) <= CAP_FRAMES < int(broken["discarded"])
    status, body = wait_until("/readyz says BROKEN", lambda: (lambda r: r if "BROKEN" in r[1] else None)(readyz(us)), capped)
    assert status == 200, "a broken link does not stop the region serving its devices"
    assert "eu-west: DOWN" in body and "BROKEN at the outbox cap" in body
    assert "relayctl outbox reset --region us-east --peer eu-west" in body
    wait_until("the metrics say broken", lambda: metric(us, "relay_replication_link_broken", "eu-west") == 1, capped)
    assert metric(us, "relay_replication_outbox_discarded_frames", "eu-west") >= int(broken["discarded"])
    out = capped.relayctl("outbox", "status", "--region", "us-east", "--json")
    rows = {row["peer"]: row for row in json.loads(out.stdout)}
    assert rows["eu-west"]["broken"]["discarded"] >= int(broken["discarded"])

    # eu-west comes back. It hears us-east (gossip still flows: it becomes ready),
    # but the link ships nothing: later frames are discarded too.
    applied = eu.redis_cli("GET", "r:in:us-east")
    eu.start_relay()
    eu.wait_ready()
    wait_until("us-east reconnects to eu-west", lambda: "eu-west: connected, BROKEN" in readyz(us)[1], capped)
    before = int(us.redis_cli("HGET", "{r:eu-west}:broken", "discarded"))
    phone.send(note, "after the return")
    laptop.messages(1, timeout=30)
    wait_until("the new frames are discarded", lambda: int(us.redis_cli("HGET", "{r:eu-west}:broken", "discarded")) > before, capped)
    assert us.redis_cli("XLEN", "{r:eu-west}:out") == "0"
    assert eu.redis_cli("GET", "r:in:us-east") == applied

    # The operator (having re-seeded eu-west) resets the link: replication resumes.
    out = capped.relayctl("outbox", "reset", "--region", "us-east", "--peer", "eu-west")
    assert "reset;" in out.stdout and "frames given up" in out.stdout, out.stdout
    phone.send(note, "after the reset")
    laptop.messages(1, timeout=30)
    last = int(us.redis_cli("GET", "{r:eu-west}:n"))
    # At least up to `last`: the laptop's receipt can add frames after it was read.
    wait_until("eu-west applies the frames after the reset",
               lambda: int(eu.redis_cli("GET", "r:in:us-east") or 0) >= last, capped)
    seq = sent + 3  # "before", the sends while down, "after the return", this one
    wait_until("the standby holds the message sent after the reset",
               lambda: eu.redis_cli("EXISTS", "{c:%s}:m:%d" % (note, seq)) == "1", capped)
    wait_until("/readyz no longer says BROKEN", lambda: "BROKEN" not in readyz(us)[1], capped)
    assert metric(us, "relay_replication_link_broken", "eu-west") == 0

"""End-to-end encryption across three real regions (each its own Redis and
relay, delay proxies on every link) and the blindness check (issue 13,
item 7): a known plaintext marker sent 1:1 and to a group across regions
decrypts on every receiving device, and is nowhere on the server side:
not in any region's Redis AOF or RDB (which hold the replication outboxes,
i.e. every frame a link carried, and the applied frames), relay or delay
proxy log, or /metrics output. Then a conversation across the three
regions through a failover drill (issue 13, item 8)."""

import base64
import glob
import json
import os
import subprocess
import uuid

import pytest

from chat_support import bin_path
from regions_support import TOPOLOGY, Cluster

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("e2ee-regions"), proxies=True, rtt_ms=TOPOLOGY)
    yield c
    c.stop()


def cli(region, user, device, *args, timeout=60, servers=None):
    """relay-cli as `user`'s `device`, homed in `region` (its token says so),
    connecting to `servers` in failover order (default: the home region)."""
    servers = servers or [region]
    cmd = [bin_path("relay-cli"), "--user", user, "--device", device, "--token", region.token(user, device),
           "--state", os.path.join(region.workdir, "cli-state", device), "--wait", "20"]
    for server in servers:
        cmd += ["--server", "127.0.0.1:%d" % server.devices_port]
    cmd += list(args)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, (region.name, args, run.stdout, run.stderr)
    return [json.loads(line) for line in run.stdout.strip().splitlines() if line.startswith("{")]


def test_marker_crosses_three_regions_encrypted_and_is_nowhere_on_the_servers(cluster):
    tag = uuid.uuid4().hex[:8]
    marker = "MARKER-" + uuid.uuid4().hex
    alice, bob, carol = "alice-" + tag, "bob-" + tag, "carol-" + tag
    east, west, south = cluster["us-east"], cluster["eu-west"], cluster["ap-south"]
    homes = {alice: east, bob: west, carol: south}
    for user, region in homes.items():
        cli(region, user, user + "-phone", "presence", user)  # registered, keys uploaded at home

    # 1:1 across regions, first contact both ways (keys fetched from the owner's region).
    cli(east, alice, alice + "-phone", "send", "--to", bob, marker + " direct")
    (line,) = cli(west, bob, bob + "-phone", "listen", "--count", "1", "--timeout", "40")
    assert (line["from"], line["text"]) == (alice, marker + " direct")
    cli(south, carol, carol + "-phone", "send", "--to", alice, marker + " from the south")
    (line,) = cli(east, alice, alice + "-phone", "listen", "--count", "1", "--timeout", "40")
    assert (line["from"], line["text"]) == (carol, marker + " from the south")

    # A group homed in us-east with members in the three regions.
    (group,) = cli(east, alice, alice + "-phone", "group", "create", bob, carol)
    conversation = group["conversation"]
    cli(east, alice, alice + "-phone", "send", "--group", conversation, marker + " group")
    for user in (bob, carol):
        lines = cli(homes[user], user, user + "-phone", "listen", "--count", "2", "--timeout", "40")
        assert lines[0]["membership"] == "created"
        assert (lines[1]["from"], lines[1]["text"]) == (alice, marker + " group")

    needles = [marker.encode()] + [base64.b64encode((marker + s).encode()) for s in (" direct", " from the south", " group")]
    for region in (east, west, south):
        region.redis_cli("SAVE")
        metrics = region.metrics()
        assert not any(n.decode() in metrics for n in needles), region.name
    searched = []
    for path in glob.glob(os.path.join(cluster.workdir, "**", "*"), recursive=True):
        if not os.path.isfile(path) or "cli-state" in path:
            continue
        with open(path, "rb") as f:
            data = f.read()
        assert not any(n in data for n in needles), path
        searched.append(os.path.basename(path))
    assert any(name.endswith(".rdb") for name in searched), searched
    assert any("aof" in name for name in searched), searched
    assert sum(name.endswith(".log") for name in searched) >= 3, searched
    # The replication frames are among what was searched: an origin appends each
    # frame, byte for byte as its link ships it inside a ReplicationBatch, to its
    # outbox stream {r:<peer>}:out in its own Redis (so to its AOF), and a receiver
    # writes what it applied and its cursor r:in:<origin> to its own.
    regions = (east, west, south)
    for region in regions:
        aof = b""
        for path in glob.glob(os.path.join(cluster.workdir, "redis-" + region.name, "appendonlydir", "*.aof")):
            with open(path, "rb") as f:
                aof += f.read()
        peers = [r.name for r in regions if r is not region]
        assert any(b"XADD" in aof and ("{r:%s}:out" % p).encode() in aof for p in peers), region.name
        assert any(("r:in:%s" % p).encode() in aof for p in peers), region.name


@pytest.fixture
def sync_cluster(tmp_path):
    c = Cluster(tmp_path, mirror="sync", proxies=True, rtt_ms=TOPOLOGY)
    yield c
    c.stop()


def test_a_conversation_across_three_regions_decrypts_through_a_failover(sync_cluster):
    """Issue 13, item 8: 1:1 and group conversations between devices homed in
    the three regions; us-east (home of alice and of the group) is killed and
    failed over to its standby eu-west; the conversation goes on, and every
    message delivered, before and after, decrypts (no error line, no retry)."""
    cluster = sync_cluster
    tag = uuid.uuid4().hex[:8]
    alice, bob, carol = "alice-" + tag, "bob-" + tag, "carol-" + tag
    east, west, south = cluster["us-east"], cluster["eu-west"], cluster["ap-south"]
    homes = {alice: east, bob: west, carol: south}
    servers = {alice: [east, west], bob: [west], carol: [south]}  # alice's list names the standby too

    def run(user, *args):
        return cli(homes[user], user, user + "-phone", *args, servers=servers[user])

    def receive(user, count):
        lines = run(user, "listen", "--count", str(count), "--timeout", "40")
        assert all("error" not in l and "resent" not in l for l in lines), lines
        return lines

    for user in homes:
        run(user, "presence", user)  # registered, keys uploaded at home
    (group,) = run(alice, "group", "create", bob, carol)
    conversation = group["conversation"]
    for user in (bob, carol):  # the members learn the group (and its members) before they send to it
        (line,) = receive(user, 1)
        assert line["membership"] == "created"

    def round_of(label):
        """Each message read by its receivers before they send (a relay-cli
        `send` takes in, and so consumes, what arrives meanwhile: docs/client.md)."""
        delivered = []

        def exchange(sender, args, text, receivers):
            run(sender, "send", *args, text)
            for user in receivers:
                got = receive(user, 1)
                assert [(l["from"], l.get("text")) for l in got] == [(sender, text)], (user, got)
                delivered.extend(got)

        exchange(alice, ["--to", bob], label + ": alice to bob", [bob])
        exchange(carol, ["--to", alice], label + ": carol to alice", [alice])
        exchange(bob, ["--group", conversation], label + ": bob to the group", [alice, carol])
        exchange(alice, ["--group", conversation], label + ": alice to the group", [bob, carol])
        return delivered

    before = round_of("before")
    assert {l["epoch"] for l in before if l["conversation"] == conversation} == {1}

    # The drill: us-east is lost at once (relay and Redis SIGKILLed) and failed
    # over to eu-west; with sync mirroring nothing acknowledged is lost.
    east.kill()
    out = cluster.relayctl("failover", "--region", "us-east")
    assert "failed over to eu-west" in out.stdout

    after = round_of("after")
    # The conversations homed in us-east (the group, alice~bob) go on at the standby under a new epoch.
    assert {l["epoch"] for l in after if l["conversation"] == conversation} == {2}, after

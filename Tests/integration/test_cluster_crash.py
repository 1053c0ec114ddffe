"""Crash test on a clustered region (issue 16): kill -9 the Redis Cluster
master that holds a conversation while its users send, and check with a
checker that counts that every acknowledged message is delivered exactly
once after dedup, in order.

A PUBACK comes after the send script's write was acknowledged by a replica
(WAIT 1, decision 0022), so the replica the cluster promotes has every
acknowledged message. Senders resend under the same client message id until
they get a PUBACK (no PUBACK, or 0x80 while the slot has no master), as the
SDK does; the send script's dedup makes that idempotent."""

import json
import os
import signal
import threading
import time
import uuid

import pytest

from chat_support import Device, Refused, direct
from cluster_support import ClusterDeployment, cli, receive_once_in_order

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

N = 120           # messages per conversation
PAIRS = 3         # conversations
KILL_AFTER = 40   # acknowledged messages in the watched conversation before the kill


def master_port_of(cluster, key):
    slot = int(cli(cluster.running()[0].port, "CLUSTER", "KEYSLOT", key).strip())
    for port, ranges in cluster.masters().items():
        if any(a <= slot <= b for a, b in ranges):
            return port
    raise AssertionError("no master for slot %d" % slot)


def state(cluster, device, conversation):
    """What Redis holds for a device and a conversation (for a failure's message)."""
    d, c = "{d:%s}" % device, "{c:%s}" % conversation
    on_d, on_c = master_port_of(cluster, d), master_port_of(cluster, c)
    user = device[:-len("-phone")]
    u = "{u:%s}" % user
    on_u = master_port_of(cluster, u)
    return "device %s on %d: dirty %r cur %r; conversation on %d: seq %r log %r pending %r; user on %d: devices %r" % (
        device, on_d, cli(on_d, "ZRANGE", d + ":dirty", 0, -1, "WITHSCORES").split(), cli(on_d, "HGETALL", d + ":cur").split(),
        on_c, cli(on_c, "HGET", c + ":meta", "seq").strip(), cli(on_c, "ZCARD", c + ":log").strip(),
        cli(on_c, "ZRANGE", c + ":pending", 0, -1).split(), on_u, cli(on_u, "SMEMBERS", u + ":devices").split())


def test_killing_a_master_under_load_loses_no_acknowledged_message(tmp_path):
    region = ClusterDeployment(tmp_path, nodes=2, settings={"sendBurst": 1000, "sendsPerSecond": 1000})
    try:
        tag = uuid.uuid4().hex[:6]
        pairs = []
        for i in range(PAIRS):
            alice, bob = "alice%d-%s" % (i, tag), "bob%d-%s" % (i, tag)
            a = Device(region, alice, alice + "-phone", node=0)
            b = Device(region, bob, bob + "-phone", node=1)
            pairs.append((a, b, direct(alice, bob)))
        watched = pairs[0][2]
        victim = master_port_of(region.cluster, "{c:%s}:meta" % watched)

        acked = {c: [] for _, _, c in pairs}
        attempts = {}
        failures = []
        threads = []

        prefixes = {c: "p%d" % i for i, (_, _, c) in enumerate(pairs)}

        def sender(a, conversation):
            try:
                deadline = time.monotonic() + 150
                for i in range(N):
                    cmid = "%s-%04d" % (prefixes[conversation], i)
                    while True:
                        assert time.monotonic() < deadline, "sender ran out of time at %s" % cmid
                        attempts[cmid] = attempts.get(cmid, 0) + 1
                        try:
                            a.send(conversation, "msg %d" % i, cmid=cmid, wait=True, timeout=3)
                            break
                        except AssertionError:
                            continue  # no PUBACK: the same id again
                        except Refused as refused:
                            if refused.code != 0x80:
                                raise AssertionError("send %s refused: %s" % (cmid, refused))
                            time.sleep(0.05)  # unavailable while the slot has no master: retry soon
                    acked[conversation].append(cmid)
            except BaseException as e:  # reported by the main thread
                failures.append(e)

        for a, _, conversation in pairs:
            t = threading.Thread(target=sender, args=(a, conversation), daemon=True)
            t.start()
            threads.append(t)
        deadline = time.monotonic() + 60
        while len(acked[watched]) < KILL_AFTER:
            assert time.monotonic() < deadline and not failures, "senders stalled before the kill: %r" % failures
            time.sleep(0.01)  # watching progress made by other threads, under a deadline
        at_kill = {c: len(v) for c, v in acked.items()}
        region.cluster.node(victim).stop(signal.SIGKILL)
        for t in threads:
            t.join(170)
            assert not t.is_alive(), "a sender did not finish"
        assert not failures, failures[0]
        promoted = master_port_of(region.cluster, "{c:%s}:meta" % watched)
        assert promoted != victim, "the cluster did not fail the master over"

        for a, b, conversation in pairs:
            assert len(acked[conversation]) == N
            prefix = prefixes[conversation]
            received, seen = receive_once_in_order(
                b, prefix, N, acked[conversation],
                describe=lambda: "; %s; victim %d, acknowledged at the kill %r" % (
                    state(region.cluster, b.device, conversation), victim, at_kill))
            print("%s: %d sent, %d resent, %d delivered, %d duplicates" % (
                conversation, N, sum(1 for c, n in attempts.items() if n > 1 and c.startswith(prefix + "-")),
                len(received), len(received) - len(seen)))
        for a, b, _ in pairs:
            a.close()
            b.close()
    finally:
        region.stop()

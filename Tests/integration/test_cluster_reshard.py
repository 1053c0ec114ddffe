"""Resharding under traffic on a clustered region (issue 16): while users
send, `redis-cli --cluster reshard` moves slots holding their conversations
(and devices) from one master to another. Commands meet ASK and MOVED (the
relay's cluster client follows them) and multi-key scripts may meet
TRYAGAIN mid-migration (the send is refused as unavailable and resent under
the same client message id). A counting checker finds every acknowledged
message delivered exactly once after dedup, in order."""

import os
import subprocess
import threading
import time
import uuid

import pytest

from chat_support import HOST, Device, Refused, direct
from cluster_support import ClusterDeployment, cli, receive_once_in_order

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

N = 150
MOVED_SLOTS = 300


def crc16(data):
    """CRC16/XMODEM, as Redis Cluster hashes keys."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def slot(tag):
    return crc16(tag.encode()) % 16384


def node_id(port):
    return cli(port, "CLUSTER", "MYID").strip()


def test_resharding_under_traffic_loses_nothing(tmp_path):
    region = ClusterDeployment(tmp_path, nodes=2, settings={"sendBurst": 1000, "sendsPerSecond": 1000})
    try:
        masters = region.cluster.masters()
        source = min(masters, key=lambda port: masters[port][0][0])  # the master of slot 0
        target = next(port for port in masters if port != source)
        first, _ = masters[source][0]
        moving = range(first, first + MOVED_SLOTS)  # redis-cli moves a source's lowest slots first
        # Users whose 1:1 conversation lives in a slot that will move.
        tag = uuid.uuid4().hex[:6]
        pairs, index = [], 0
        while len(pairs) < 2:
            alice, bob = "alice%d-%s" % (index, tag), "bob%d-%s" % (index, tag)
            index += 1
            if slot("c:" + direct(alice, bob)) in moving:
                a = Device(region, alice, alice + "-phone", node=0)
                b = Device(region, bob, bob + "-phone", node=1)
                pairs.append((a, b, direct(alice, bob), "p%d" % len(pairs)))
            assert index < 100000

        acked = {c: [] for _, _, c, _ in pairs}
        failures = []

        def sender(a, conversation, prefix):
            try:
                deadline = time.monotonic() + 150
                for i in range(N):
                    cmid = "%s-%04d" % (prefix, i)
                    while True:
                        assert time.monotonic() < deadline, "sender ran out of time at %s" % cmid
                        try:
                            a.send(conversation, "msg %d" % i, cmid=cmid, wait=True, timeout=3)
                            break
                        except AssertionError:
                            continue
                        except Refused as refused:
                            if refused.code != 0x80:
                                raise AssertionError("send %s refused: %s" % (cmid, refused))
                            time.sleep(0.02)  # TRYAGAIN mid-migration: resend soon
                    acked[conversation].append(cmid)
                    time.sleep(0.01)  # a steady stream across the reshard, not one burst before it
            except BaseException as e:  # reported by the main thread
                failures.append(e)

        threads = [threading.Thread(target=sender, args=(a, c, p), daemon=True) for a, _, c, p in pairs]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while min(len(v) for v in acked.values()) < 20:
            assert time.monotonic() < deadline and not failures, "senders stalled: %r" % failures
            time.sleep(0.01)  # watching progress made by other threads, under a deadline
        reshard = subprocess.run(
            ["redis-cli", "--cluster", "reshard", "%s:%d" % (HOST, source),
             "--cluster-from", node_id(source), "--cluster-to", node_id(target),
             "--cluster-slots", str(MOVED_SLOTS), "--cluster-yes", "--cluster-pipeline", "10"],
            capture_output=True, text=True, timeout=120)
        assert reshard.returncode == 0, reshard.stdout[-2000:] + reshard.stderr
        during = {c: len(v) for c, v in acked.items()}
        for t in threads:
            t.join(170)
            assert not t.is_alive(), "a sender did not finish"
        assert not failures, failures[0]
        after = region.cluster.masters()
        for _, _, conversation, _ in pairs:
            s = slot("c:" + conversation)
            assert any(a <= s <= b for a, b in after[target]), "slot %d did not move" % s
            assert during[conversation] < N, "the reshard ended after the sends: nothing was under traffic"

        for a, b, conversation, prefix in pairs:
            receive_once_in_order(b, prefix, N, acked[conversation])
        for a, b, _, _ in pairs:
            a.close()
            b.close()
    finally:
        region.stop()

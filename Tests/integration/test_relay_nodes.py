"""Several relay nodes per region with replication (issue 16, decision 0027):
a region of two relay nodes sharing one redis-server replicates to another
region through the links' delay proxies.

- The node shipping a link (holding `{r:<peer>}:lease`) is killed with
  SIGKILL while messages flow: the other node takes the link over, and a
  counting checker finds every acknowledged message delivered exactly once
  (after dedup by seq), in order, in the other region.
- The receiving region's node that the proxy leads to is killed while
  frames arrive: the proxy leads the shipper to the other node, which
  applies from the shared cursor once the dead node's lease on the origin's
  frames has run out; again every message once, in order.
- A key fetch asked on one node and answered (a `KeysAnswer` frame) at the
  other reaches the asking device.

Every wait is bounded; the lease holders are read from Redis."""

import os
import re
import signal
import threading
import time
import urllib.request
import uuid

import pytest

from chat_support import HOST, Device, direct
from cluster_support import receive_once_in_order
from regions_support import Cluster

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

N = 300          # messages sent
KILL_AFTER = 60  # acknowledged before the kill


def wait_node_ready(region, index, timeout=30):
    """Until node `index`'s /readyz answers 200 (it heard a peer)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen("http://%s:%d/readyz" % (HOST, region.http_port + index), timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "%s node %d never became ready:\n%s" % (region.name, index, region.logs())
        time.sleep(0.1)  # readiness of another process: polled, bounded


def holder(region, key, timeout=30, other_than=None):
    """The index of the node holding lease `key` in `region`'s Redis (node
    ids are `<index>-<random>`), once one holds it (and, with other_than,
    once it is not that node)."""
    deadline = time.monotonic() + timeout
    while True:
        value = region.redis_cli("GET", key)
        match = re.match(r"^(\d+)-", value)
        if match and int(match.group(1)) != other_than:
            return int(match.group(1))
        assert time.monotonic() < deadline, "%s: %s is %r" % (region.name, key, value)
        time.sleep(0.05)  # a lease taken by another process: polled, bounded


def applied_on(region, index, origin):
    """relay_replication_frames_applied_total{origin} on node `index`."""
    with urllib.request.urlopen("http://%s:%d/metrics" % (HOST, region.http_port + index), timeout=10) as r:
        text = r.read().decode()
    match = re.search(r'relay_replication_frames_applied_total\{origin="%s"\} (\d+)' % re.escape(origin), text)
    return int(match.group(1)) if match else 0


def send_in_background(device, conversation, prefix):
    """Sends N messages one after another (each waiting for its PUBACK);
    returns the thread, the acknowledged client message ids, the failures,
    and an event set once KILL_AFTER are acknowledged."""
    acked, failures, reached = [], [], threading.Event()

    def run():
        try:
            for i in range(N):
                cmid = "%s-%04d" % (prefix, i)
                device.send(conversation, "msg %d" % i, cmid=cmid, wait=True, timeout=30)
                acked.append(cmid)
                if len(acked) == KILL_AFTER:
                    reached.set()
        except BaseException as e:  # reported by the main thread
            failures.append(e)
            reached.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, acked, failures, reached


def pair(cluster, sender_region, sender_node, receiver_region, receiver_node):
    """Two devices whose direct conversation is homed in the sender's region
    (its user sorts first), so every message crosses sender -> receiver as a
    ReplicatedMessage frame."""
    tag = uuid.uuid4().hex[:8]
    alice, bob = "a-" + tag, "b-" + tag
    a = Device(cluster[sender_region], alice, alice + "-phone", node=sender_node)
    b = Device(cluster[receiver_region], bob, bob + "-phone", node=receiver_node)
    return a, b, direct(alice, bob)


def test_killing_the_node_that_ships_a_link_moves_the_link_to_the_other_node(tmp_path):
    cluster = Cluster(tmp_path, names=("us-east", "eu-west"), proxies=True, nodes={"us-east": 2})
    try:
        east = cluster["us-east"]
        wait_node_ready(east, 1)
        shipping = holder(east, "{r:eu-west}:lease")
        survivor = 1 - shipping
        a, b, conversation = pair(cluster, "us-east", survivor, "eu-west", 0)

        thread, acked, failures, reached = send_in_background(a, conversation, "k")
        assert reached.wait(60), "senders stalled before the kill"
        assert not failures, failures[0]
        east.nodes[shipping].stop(signal.SIGKILL)
        thread.join(150)
        assert not thread.is_alive(), "the sender did not finish"
        assert not failures, failures[0]
        assert len(acked) == N

        received, seen = receive_once_in_order(
            b, "k", N, acked, describe=lambda: "; killed node %d\n%s" % (shipping, cluster.logs()), timeout=120)
        assert holder(east, "{r:eu-west}:lease", other_than=shipping) == survivor, "the other node ships the link now"
        print("%d sent, %d delivered, %d duplicates" % (N, len(received), len(received) - len(seen)))
        a.close()
        b.close()
    finally:
        cluster.stop()


def test_frames_reaching_either_node_of_the_receiving_region_apply_once(tmp_path):
    cluster = Cluster(tmp_path, names=("us-east", "eu-west"), proxies=True, nodes={"eu-west": 2})
    try:
        west = cluster["eu-west"]
        wait_node_ready(west, 1)
        a, b, conversation = pair(cluster, "us-east", 0, "eu-west", 1)

        thread, acked, failures, reached = send_in_background(a, conversation, "r")
        assert reached.wait(60), "senders stalled before the kill"
        assert not failures, failures[0]
        # The proxy towards eu-west leads to node 0 while it takes connections:
        # node 0 applies (polled, bounded: the PUBACKs do not wait for eu-west).
        deadline = time.monotonic() + 30
        while applied_on(west, 0, "us-east") == 0:
            assert time.monotonic() < deadline, "node 0 applied nothing:\n" + cluster.logs()
            time.sleep(0.05)
        assert applied_on(west, 1, "us-east") == 0
        west.nodes[0].stop(signal.SIGKILL)
        thread.join(150)
        assert not thread.is_alive(), "the sender did not finish"
        assert not failures, failures[0]
        assert len(acked) == N

        received, seen = receive_once_in_order(
            b, "r", N, acked, describe=lambda: "\n" + cluster.logs(), timeout=120)
        assert applied_on(west, 1, "us-east") > 0, "node 1 applied what came after the kill"
        assert int(west.redis_cli("GET", "r:in:us-east")) >= N, "one cursor for the region's nodes"
        print("%d sent, %d delivered, %d duplicates" % (N, len(received), len(received) - len(seen)))
        a.close()
        b.close()
    finally:
        cluster.stop()


def test_a_key_fetch_answered_at_another_node_reaches_the_asking_device(tmp_path):
    """eu-west's device asks on node 1 for keys of a us-east user; us-east's
    KeysAnswer comes through the proxy, which leads to eu-west's node 0: the
    answer is passed on to node 1 instead of being dropped there."""
    from signal_keys import SignalKeys

    cluster = Cluster(tmp_path, names=("us-east", "eu-west"), proxies=True, nodes={"eu-west": 2})
    try:
        west = cluster["eu-west"]
        wait_node_ready(west, 1)
        a, b, conversation = pair(cluster, "us-east", 0, "eu-west", 1)
        keys = SignalKeys(a.pb)
        keys.one_time = [keys.one_time_prekey(5)]
        upload = a.request("keys.upload", keys_upload=keys.upload())
        assert not upload.HasField("error"), upload.error
        # eu-west knows alice's home once her message reached it.
        a.send(conversation, "hello")
        assert [d.seq for d in b.messages(1, timeout=30)] == [1]

        resp = b.request("keys.fetch", timeout=30, keys_fetch=b.pb.KeysFetch(user=a.user))
        assert not resp.HasField("error"), resp.error
        [bundle] = resp.key_bundles.bundles
        assert bundle.device == a.device and bundle.one_time_prekey.id == 5
        # us-east's frames, the KeysAnswer among them, were all applied at node 0.
        assert applied_on(west, 0, "us-east") > 0 and applied_on(west, 1, "us-east") == 0
        a.close()
        b.close()
    finally:
        cluster.stop()

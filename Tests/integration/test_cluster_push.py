"""Push on a clustered region (issue 16): test_push's one-region tests,
collected here against a region whose store is a Redis Cluster, and the
case the cluster makes new: a device connected while its queue's master is
not the node the relay's first seed names. Its wake-up channel is a sharded
channel (SSUBSCRIBE on the master of its slot), so the enqueue script's
SPUBLISH counts its subscriber exactly there, and no push is even claimed
for a connected device."""

import json
import os
import uuid

import pytest

pytest.importorskip("http_ece", reason="http-ece from PyPI: scripts/test installs it into .venv-tests")

from chat_support import HOST, Device, direct, free_port, text_of  # noqa: E402
from cluster_support import ClusterDeployment, cli  # noqa: E402
from push_receiver import PushReceiver  # noqa: E402
from test_cluster_reshard import slot  # noqa: E402
from test_push import http_get, metric, register  # noqa: E402
from test_push import (  # noqa: E402,F401
    test_offline_device_gets_one_push_within_2s_then_connects_and_drains,
    test_ten_messages_while_offline_make_one_push,
)

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture
def region(tmp_path):
    http_port = free_port()
    d = ClusterDeployment(tmp_path, extra_args=["--http-listen", "%s:%d" % (HOST, http_port)],
                          settings={"pushAllowPrivateEndpoints": True, "sendBurst": 1000, "sendsPerSecond": 1000})
    # test_push's helpers ask this port whether a device is offline: the
    # relay's subscriber listens on the first seed.
    d.redis_port = d.cluster.nodes[0].port
    d.http_port = http_port
    d.nodes[0].wait_for("http on", 30)
    d.receiver = PushReceiver(http_get(http_port, "/push/vapid").strip())
    yield d
    d.receiver.stop()
    d.stop()


def test_a_connected_device_whose_queue_is_on_another_master_gets_no_push(region):
    listened = region.cluster.nodes[0].port
    masters = region.cluster.masters()
    elsewhere = [r for port, ranges in masters.items() if port != listened for r in ranges]
    tag = uuid.uuid4().hex[:6]
    index = 0
    while True:
        bob = "bob%d-%s" % (index, tag)
        index += 1
        if any(a <= slot("d:" + bob + "-d") <= b for a, b in elsewhere):
            break
    alice = "alice-" + tag
    a = Device(region, alice, alice + "-d")
    b = Device(region, bob, bob + "-d")
    sub = region.receiver.subscribe(bob + "-d")
    register(b, sub)
    for i in range(3):
        a.send(direct(alice, bob), "m%d" % i)
    assert [text_of(m) for m in b.messages(3)] == ["m0", "m1", "m2"]
    assert region.receiver.stays(lambda: len(sub.attempts) == 0, 2), "a connected device was pushed to"
    # The relay subscribed on the master of the device channel's slot, and only there ...
    channel = "d:" + bob + "-d"
    owner = next(port for port, ranges in masters.items() if any(a <= slot(channel) <= b for a, b in ranges))
    assert owner != listened
    assert cli(owner, "PUBSUB", "SHARDNUMSUB", channel).split() == [channel, "1"]
    assert cli(listened, "PUBSUB", "NUMSUB", channel).split() == [channel, "0"]
    # ... so the enqueue counted it and claimed no push at all.
    assert not metric(http_get(region.http_port, "/metrics"), "relay_pushes_coalesced_total", why="connected")
    a.close()
    b.close()

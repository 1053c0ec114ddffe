"""The chat relay on a region whose store is a real Redis Cluster (issue
16): 3 masters and 3 replicas, two relay nodes. The one-region chat tests
(test_chat.py: 1:1, order, multi-device, groups, duplicates, offline
devices) run here unchanged against the clustered region, beside checks
that the keys really spread over the masters."""

import os

import pytest

from chat_support import Device, direct, text_of, unique_names
from cluster_support import ClusterDeployment, cli

# The chat tests themselves, collected again here with this module's `region`.
from test_chat import (  # noqa: F401
    test_one_to_one_with_statuses,
    test_order_and_the_senders_other_devices,
    test_both_users_writing_at_once_reach_every_device_once_in_seq_order,
    test_offline_device_gets_everything_in_order_on_reconnect,
    test_a_device_that_acknowledges_nothing_gets_redelivery,
    test_duplicate_sends_are_stored_once,
    test_groups_fan_out_to_every_member_device,
    test_the_earliest_joined_member_succeeds_the_last_admin,
    test_non_members_are_refused,
    test_per_device_ciphertexts_reach_their_devices,
)

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = ClusterDeployment(tmp_path_factory.mktemp("cluster-region"), nodes=2)
    yield d
    d.stop()


@pytest.fixture
def names():
    return unique_names()


def test_conversations_spread_over_every_master(region, names):
    """Many 1:1 conversations: their keys land on all three masters, and each
    message still reaches its recipient once."""
    pairs = []
    for i in range(12):
        alice, bob = names("a%d" % i), names("b%d" % i)
        a = Device(region, alice, alice + "-phone")
        b = Device(region, bob, bob + "-phone", node=1)
        a.send(direct(alice, bob), "hello %d" % i)
        pairs.append((a, b, i))
    for a, b, i in pairs:
        (got,) = b.messages(1)
        assert text_of(got) == "hello %d" % i
    masters = region.cluster.masters()
    assert len(masters) == 3
    sizes = {port: int(cli(port, "DBSIZE").strip() or 0) for port in masters}
    assert all(size > 0 for size in sizes.values()), sizes
    for a, b, _ in pairs:
        a.close()
        b.close()

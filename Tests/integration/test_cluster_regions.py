"""Chat across regions (test_regions.py) with us-east's store a real Redis
Cluster (issue 16): its relay replicates through the cluster (outboxes,
cursors, the directory) to two regions on one Redis each. The tests are
test_regions' own, collected here with this module's `cluster`."""

import os

import pytest

from regions_support import TOPOLOGY, Cluster

from test_regions import (  # noqa: F401
    test_direct_conversation_across_regions_in_order_with_statuses,
    test_group_with_members_in_three_regions_sees_one_order,
    test_presence_typing_and_history_across_regions,
)

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path, proxies=True, rtt_ms=TOPOLOGY, clustered=("us-east",))
    yield c
    c.stop()

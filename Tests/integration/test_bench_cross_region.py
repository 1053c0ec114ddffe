"""relay-bench cross-region, run tiny against two real regions (redis-server
+ relay serve each) linked through delay proxies: it exits 0, its JSON adds
up, and every message paid the link's one-way delay. Numbers are not judged
beyond that physical floor (no test asserts on speed)."""

import json
import os
import subprocess

import pytest

from chat_support import HOST, bin_path
from regions_support import Cluster

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

RTT_MS = 40


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("bench-cross-region"), names=("us-east", "eu-west"),
                proxies=True, rtt_ms=RTT_MS)
    yield c
    c.stop()


def cross_region(cluster, *args, timeout=120):
    us, eu = cluster["us-east"], cluster["eu-west"]
    cmd = [bin_path("relay-bench"), "cross-region", "--json", "--connect-timeout", "30",
           "--key-dir", cluster.keys,
           "--host", HOST, "--port", str(us.devices_port), "--home", "us-east",
           "--to-host", HOST, "--to-port", str(eu.devices_port), "--to-home", "eu-west",
           "--metrics", "us-east=%s:%d" % (HOST, us.http_port),
           "--metrics", "eu-west=%s:%d" % (HOST, eu.http_port),
           "--rtt-ms", str(RTT_MS)] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("sequenced_at", ["sender", "recipient"])
def test_cross_region_pays_the_link_and_samples_replication_lag(cluster, sequenced_at):
    out = cross_region(cluster, "--pairs", "3", "--rate", "30", "--duration", "2", "--warmup", "0.5",
                       "--sequenced-at", sequenced_at)
    assert out.returncode == 0, "relay-bench cross-region exited %d:\n%s\n%s\n%s" % (
        out.returncode, out.stdout, out.stderr, cluster.logs())
    r = json.loads(out.stdout)
    assert r["scenario"] == "cross-region" and r["pairs"] == 3 and r["targetRate"] == 30
    assert r["fromHome"] == "us-east" and r["toHome"] == "eu-west" and r["rttMs"] == RTT_MS
    assert r["sequencedAt"] == sequenced_at
    assert r["sequencingRegion"] == ("us-east" if sequenced_at == "sender" else "eu-west")

    # Counts add up: everything sent was acknowledged and delivered once, in order.
    assert r["sent"] >= 3 and r["sent"] == r["acknowledged"] == r["delivered"]
    assert r["lost"] == r["refused"] == r["outOfOrder"] == r["duplicates"] == 0 and not r["timedOut"]
    assert r["ackMicros"]["count"] == r["acknowledged"] and r["deliveryMicros"]["count"] == r["delivered"]
    for summary in (r["ackMicros"], r["deliveryMicros"]):
        assert 0 < summary["p50"] <= summary["p99"] <= summary["p999"] <= summary["max"]
    # Every message crossed the proxy between the regions once at least.
    assert r["deliveryMicros"]["p50"] >= RTT_MS / 2 * 1000
    assert r["deliveryMicros"]["p50"] > r["ackMicros"]["p50"]

    # Both regions answered the lag sampler, each about its outbox to the other.
    assert {m["region"]: m["answered"] > 0 for m in r["metrics"]} == {"us-east": True, "eu-west": True}
    rows = {(row["region"], row["peer"]): row for row in r["replication"]}
    assert set(rows) == {("us-east", "eu-west"), ("eu-west", "us-east")}
    for row in rows.values():
        assert row["samples"] > 0
        assert 0 <= row["lagP50Ms"] <= row["lagP99Ms"] <= row["lagMaxMs"] and row["outboxFramesMax"] >= 0
    # Sequenced at the sender, the messages cross us-east -> eu-west; at the
    # recipient, the forwarded sends do.
    assert rows[("us-east", "eu-west")]["framesShipped"] > 0


def test_cross_region_refuses_a_rate_past_the_per_device_limit():
    out = subprocess.run([bin_path("relay-bench"), "cross-region", "--to-port", "1920", "--to-home", "eu-west",
                          "--pairs", "2", "--rate", "100"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "50.0 sends/s per device" in out.stderr and "limit of 20.0" in out.stderr

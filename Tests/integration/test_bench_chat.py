"""relay-bench's chat scenarios, each run tiny against a real region
(redis-server + relay serve): they exit 0 and their JSON adds up. Numbers
are not judged here (no test asserts on speed); shapes and counts are."""

import json
import os
import subprocess

import pytest

from chat_support import HOST, Deployment, bin_path

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bench-chat")
    config = workdir / "region.json"
    # Limits raised so the benchmark's rates are never refused.
    config.write_text(json.dumps({"name": "local", "sendBurst": 100000, "sendsPerSecond": 100000,
                                  "requestBurst": 1000, "requestsPerSecond": 1000}))
    d = Deployment(workdir, nodes=1, extra_args=["--config", str(config)])
    yield d
    d.stop()


def bench(region, scenario, *args, timeout=60):
    out = subprocess.run(
        [bin_path("relay-bench"), scenario, "--host", HOST, "--port", str(region.nodes[0].port),
         "--key-dir", region.keys, "--json", "--connect-timeout", "20"] + list(args),
        capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, "relay-bench %s exited %d:\n%s\n%s\n%s" % (
        scenario, out.returncode, out.stdout, out.stderr, region.logs())
    result = json.loads(out.stdout)
    assert result["scenario"] == scenario
    return result


def test_pairs(region):
    r = bench(region, "pairs", "--pairs", "2", "--rate", "20", "--duration", "1", "--warmup", "0")
    assert r["pairs"] == 2 and r["targetRate"] == 20
    assert r["sent"] >= 2 and r["delivered"] == r["sent"] == r["acknowledged"]
    assert r["lost"] == r["refused"] == r["outOfOrder"] == 0
    assert r["deliveryMicros"]["count"] == r["delivered"] and r["ackMicros"]["count"] == r["acknowledged"]
    for summary in (r["ackMicros"], r["deliveryMicros"]):
        assert 0 < summary["p50"] <= summary["p99"] <= summary["p999"] <= summary["max"]


def test_pairs_as_fast_as_the_window_allows(region):
    r = bench(region, "pairs", "--pairs", "2", "--rate", "0", "--window", "8", "--duration", "1",
              "--warmup", "0", "--protocol", "3.1.1")
    assert r["targetRate"] == 0 and r["protocolVersion"] == "3.1.1"
    assert r["sent"] > 16 and r["delivered"] == r["sent"] and r["lost"] == 0 and r["outOfOrder"] == 0


def test_group(region):
    r = bench(region, "group", "--members", "8", "--messages", "3", "--warmup", "1")
    assert r["members"] == 8 and r["unexpected"] == 0
    assert r["allDeliveredMicros"]["count"] == 3
    assert r["memberDeliveryMicros"]["count"] == 3 * 7
    # The last member of each message is never earlier than the typical member.
    assert r["allDeliveredMicros"]["p50"] >= r["memberDeliveryMicros"]["p50"] > 0
    assert r["allDeliveredMicros"]["max"] == r["memberDeliveryMicros"]["max"]


def test_connections(region):
    pid = region.nodes[0].proc.pid
    r = bench(region, "connections", "--sessions", "50", "--settle", "0", "--relay-pid", str(pid))
    assert r["sessions"] == 50 and r["connectsPerSecond"] > 0
    assert r["relayRSSBefore"] > 0 and r["relayRSSAfter"] > 0
    assert r["relayBytesPerSession"] == pytest.approx((r["relayRSSAfter"] - r["relayRSSBefore"]) / 50)
    assert "redisRSSBefore" not in r  # no --redis-pid, no figure


def test_wire(region):
    r = bench(region, "wire", "--messages", "10", "--payload", "48")
    rows = {row["variant"]: row for row in r["rows"]}
    assert set(rows) == {"3.1.1", "5", "5+aliases", "3.1.1+compact", "5+compact", "5+aliases+compact"}
    for row in rows.values():
        assert row["ciphertextBytes"] == 48
        assert row["deliveryPayloadBytes"] > 48 and row["deliveryPacketBytes"] > row["deliveryPayloadBytes"]
        assert row["recipientUpBytes"] == 4  # one PUBACK per delivery
        assert row["recipientDownBytes"] == row["deliveryPacketBytes"]  # nothing else reaches the recipient
        assert row["totalBytes"] == pytest.approx(
            row["senderUpBytes"] + row["senderDownBytes"] + row["recipientUpBytes"] + row["recipientDownBytes"])
    # MQTT 5 adds a property length byte to each PUBLISH; aliases drop the topic after the first message.
    assert rows["5"]["deliveryPacketBytes"] == rows["3.1.1"]["deliveryPacketBytes"] + 1
    assert rows["5+aliases"]["deliveryPacketBytes"] < rows["5"]["deliveryPacketBytes"]
    assert rows["5+aliases"]["sendPacketBytes"] < rows["5"]["sendPacketBytes"]
    # Compact deliveries: the same MQTT framing (but for a remaining length that may fit one byte
    # where it took two), a much smaller envelope (refs, no repeated ids).
    for name in ("3.1.1", "5", "5+aliases"):
        full, compact = rows[name], rows[name + "+compact"]
        assert full["deliveredMQTTOverhead"] - 1 <= compact["deliveredMQTTOverhead"] <= full["deliveredMQTTOverhead"]
        assert compact["deliveryPayloadBytes"] < full["deliveryPayloadBytes"] - 40

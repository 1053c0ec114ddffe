"""Load through the broker with the project's own load generator,
relay-bench (built next to the relay).  Asserts what must hold under load
(no QoS 1 message lost, none out of order), never how fast: speed is
measured in BENCHMARKS.md, not asserted here.

Two event loops make a publisher and its subscriber likely to sit on
different loops, where a publisher could outrun the subscriber's loop; the
relay's flow control must hold it back instead of dropping messages at the
subscriber's queue cap."""

import json
import os
import subprocess

import pytest


def bench_bin():
    relay = os.environ.get("RELAY_BIN")
    path = os.path.join(os.path.dirname(relay), "relay-bench") if relay else None
    if not path or not os.access(path, os.X_OK):
        pytest.skip("relay-bench is not built next to RELAY_BIN")
    return path


@pytest.mark.parametrize("qos", [1, 0])
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_pairs_under_load_lose_nothing(make_broker, qos, protocol):
    bench = bench_bin()
    b = make_broker(threads=2)
    run = subprocess.run(
        [bench, "mqtt", "--host", b.host, "--port", str(b.port),
         "--pairs", "4", "--qos", str(qos), "--inflight", "64",
         "--messages", "5000", "--payload", "64", "--protocol", protocol,
         "--json", "--timeout", "60"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["sent"] == 4 * 5000
    assert result["received"] == result["sent"], result
    assert result["lost"] == 0 and result["outOfOrder"] == 0, result

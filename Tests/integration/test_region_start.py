"""scripts/region-start (what run/<region>/start calls) brings back a region's
relay that died while its redis-server still runs, and leaves what runs alone."""

import json
import os
import signal
import subprocess
import time

import pytest

from chat_support import HOST, bin_path, free_port
from drill_support import alive

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_pid(path):
    with open(path) as f:
        return int(f.read().strip())


@pytest.fixture
def region(tmp_path):
    keys = tmp_path / "keys"
    subprocess.run([bin_path("relayctl"), "keys", "init", "--dir", str(keys)], check=True, timeout=60, capture_output=True)
    (tmp_path / "regions").mkdir()
    regions = []
    for name in ("us-east", "eu-west"):
        settings = {"name": name, "mqtt": "%s:%d" % (HOST, free_port()), "redis": "%s:%d" % (HOST, free_port()),
                    "appendfsync": "everysec"}
        (tmp_path / "regions" / (name + ".json")).write_text(json.dumps(settings))
        regions.append({"name": name, "settings": "regions/%s.json" % name, "devices": settings["mqtt"],
                        "peers": "%s:%d" % (HOST, free_port()), "http": "%s:%d" % (HOST, free_port())})
    regions[0]["standby"], regions[1]["standby"] = "eu-west", "us-east"
    link = {"between": ["us-east", "eu-west"], "rttMs": 80, "bandwidthKbps": 100000, "loss": 0, "proxies": []}
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps({"regions": regions, "links": [link]}))
    env = dict(os.environ, RELAY_BIN_DIR=os.path.dirname(os.environ["RELAY_BIN"]), RELAY_TOPOLOGY=str(topology),
               RELAY_RUN_DIR=str(tmp_path / "run"), RELAY_KEY_DIR=str(keys))
    run = tmp_path / "run" / "us-east"

    def start():
        return subprocess.run([os.path.join(ROOT, "scripts", "region-start"), "us-east"], env=env,
                              timeout=120, capture_output=True, text=True)

    yield start, run
    for name in ("relay-0.pid", "redis.pid"):
        path = run / name
        if path.exists() and alive(read_pid(path)):
            os.kill(read_pid(path), signal.SIGKILL)


def test_a_relay_that_died_is_started_again_while_redis_runs(region):
    start, run = region
    first = start()
    assert first.returncode == 0, first.stderr
    redis_pid, relay_pid = read_pid(run / "redis.pid"), read_pid(run / "relay-0.pid")
    assert alive(redis_pid) and alive(relay_pid)

    os.kill(relay_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(relay_pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # the relay is not our child: no event to await, poll, bounded
    assert not alive(relay_pid)

    again = start()
    assert again.returncode == 0, again.stderr
    assert "redis-server already running" in again.stderr
    assert "relay node 0 on mqtt://" in again.stdout
    assert read_pid(run / "redis.pid") == redis_pid, "the running redis-server was left alone"
    restarted = read_pid(run / "relay-0.pid")
    assert restarted != relay_pid and alive(restarted)

    # Both running: nothing is started twice.
    third = start()
    assert third.returncode == 0, third.stderr
    assert "relay node 0 already running" in third.stderr
    assert read_pid(run / "relay-0.pid") == restarted

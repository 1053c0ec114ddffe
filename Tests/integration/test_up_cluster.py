"""`scripts/up --cluster` (issue 16, decision 0027) on a two-region topology
of free loopback ports: each region's store comes up as a Redis Cluster of 3
masters and 3 replicas and each region gets two relay nodes, the delay
proxies lead to both; a message crosses the regions between second nodes;
`scripts/down` stops every process it started. Bounded throughout."""

import glob
import json
import os
import subprocess
import time
import urllib.request
import uuid

import pytest

from chat_support import HOST, Device, bin_path, direct, free_port, text_of
from drill_support import alive
from regions_support import consecutive_ports

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Node:
    def __init__(self, port):
        self.port = port


class UpRegion:
    """Duck-types chat_support.Deployment for Device: a region scripts/up started."""

    def __init__(self, workdir, keys, name, devices_port, nodes):
        self.workdir, self.keys, self.name = workdir, keys, name
        self.nodes = [Node(devices_port + i) for i in range(nodes)]

    def token(self, user, device, ttl=None):
        return subprocess.run([bin_path("relayctl"), "token", "issue", "--user", user, "--device", device,
                               "--home", self.name, "--key-dir", self.keys],
                              check=True, timeout=60, capture_output=True, text=True).stdout.strip()


def wait_ready(port, timeout=60):
    """Until GET /readyz on `port` answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen("http://%s:%d/readyz" % (HOST, port), timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "http %d never ready" % port
        time.sleep(0.1)  # readiness of another process: polled, bounded


def pids(run):
    result = {}
    for path in glob.glob(os.path.join(run, "*", "*.pid")):
        with open(path) as f:
            result[path] = int(f.read().strip())
    return result


def test_up_cluster_starts_clustered_regions_of_two_nodes_and_a_message_crosses(tmp_path):
    names = ("us-east", "eu-west")
    (tmp_path / "regions").mkdir()
    regions, ports = [], {}
    for name in names:
        # Node i on the port i past each endpoint; the cluster on the six after "redis".
        devices, peers, http, redis = (consecutive_ports(2), consecutive_ports(2), consecutive_ports(2),
                                       consecutive_ports(7))
        ports[name] = (devices, redis, http)
        settings = {"name": name, "mqtt": "%s:%d" % (HOST, devices), "redis": "%s:%d" % (HOST, redis),
                    "appendfsync": "everysec", "sendBurst": 1000, "sendsPerSecond": 1000}
        (tmp_path / "regions" / (name + ".json")).write_text(json.dumps(settings))
        regions.append({"name": name, "settings": "regions/%s.json" % name, "devices": settings["mqtt"],
                        "peers": "%s:%d" % (HOST, peers), "http": "%s:%d" % (HOST, http)})
    regions[0]["standby"], regions[1]["standby"] = "eu-west", "us-east"
    proxies = [{"to": n, "listen": "%s:%d" % (HOST, free_port()), "control": "%s:%d" % (HOST, free_port())}
               for n in names]
    link = {"between": list(names), "rttMs": 40, "bandwidthKbps": 100000, "loss": 0, "proxies": proxies}
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps({"regions": regions, "links": [link]}))
    run, keys = str(tmp_path / "run"), str(tmp_path / "keys")
    env = dict(os.environ, RELAY_BIN_DIR=os.path.dirname(os.environ["RELAY_BIN"]), RELAY_TOPOLOGY=str(topology),
               RELAY_RUN_DIR=run, RELAY_KEY_DIR=keys, RELAY_PUSH_LISTEN="%s:%d" % (HOST, free_port()))

    def down():
        return subprocess.run([os.path.join(ROOT, "scripts", "down")], env=env, timeout=180,
                              capture_output=True, text=True)

    started = {}
    try:
        up = subprocess.run([os.path.join(ROOT, "scripts", "up"), "--cluster"], env=env, timeout=600,
                            capture_output=True, text=True)
        assert up.returncode == 0, up.stdout + up.stderr
        for name in names:
            assert "%s: Redis Cluster on" % name in up.stdout
            assert "%s: relay node 1 on mqtt://" % name in up.stdout
            devices, redis, http = ports[name]
            for node in range(2):
                # Each node admits devices once it heard a peer (its own gossip or heartbeats).
                wait_ready(http + node)
            info = subprocess.run(["redis-cli", "-h", HOST, "-p", str(redis + 1), "cluster", "info"],
                                  capture_output=True, text=True, timeout=10).stdout
            assert "cluster_state:ok" in info and "cluster_known_nodes:6" in info, info
            # The relays run on the cluster: nothing in the plain "redis" port.
            assert subprocess.run(["redis-cli", "-h", HOST, "-p", str(redis), "ping"],
                                  capture_output=True, text=True, timeout=10).stdout.strip() != "PONG"
        started = pids(run)
        assert sum(1 for p in started if os.path.basename(p).startswith("redis-")) == 12
        assert sum(1 for p in started if os.path.basename(p).startswith("relay-")) == 4
        with open(os.path.join(run, "cluster", "topology.json")) as f:
            assert [r["nodes"] for r in json.load(f)["regions"]] == [2, 2]

        tag = uuid.uuid4().hex[:8]
        alice, bob = "a-" + tag, "b-" + tag
        east = UpRegion(str(tmp_path), keys, "us-east", ports["us-east"][0], 2)
        west = UpRegion(str(tmp_path), keys, "eu-west", ports["eu-west"][0], 2)
        b = Device(west, bob, bob + "-phone", node=1)
        a = Device(east, alice, alice + "-phone", node=1)
        a.send(direct(alice, bob), "across the cluster")
        (got,) = b.messages(1, timeout=60)
        assert text_of(got) == "across the cluster" and got.seq == 1
        a.close()
        b.close()
    finally:
        stopped = down()
    assert stopped.returncode == 0, stopped.stderr
    assert not [p for p, pid in started.items() if alive(pid)], "scripts/down left processes running"

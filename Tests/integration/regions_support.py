"""A local multi-region deployment for tests: per region a redis-server and
one relay serve with --topology (or several: Cluster(nodes={region: n}),
node i with --node i on the ports i past the region's endpoints);
optionally a delay proxy on every link direction (relayctl link proxy), as
scripts/up does."""

import json
import os
import signal
import socket
import subprocess
import time

import chat_support
from chat_support import HOST, ROOT, Process, bin_path, free_port, start_redis


def consecutive_ports(n):
    """A free port followed by n - 1 more free ones (a region's node i
    listens i ports past node 0)."""
    for _ in range(1000):
        base = free_port()
        rest = list(range(base + 1, base + n))
        ok = True
        for port in rest:
            if port in chat_support._ports_given:
                ok = False
                break
            with socket.socket() as s:
                try:
                    s.bind((HOST, port))
                except OSError:
                    ok = False
                    break
        if ok:
            chat_support._ports_given.update(rest)
            return base
    raise RuntimeError("no %d consecutive free ports" % n)

DEFAULT_STANDBYS = {"us-east": "eu-west", "eu-west": "us-east", "ap-south": "eu-west"}

# rtt_ms="topology": each link's round trip and bandwidth as the shipped
# topology.json has them (80-200 ms), the conditions the product is for.
TOPOLOGY = "topology"


def shipped_links():
    """{frozenset({a, b}): (rttMs, bandwidthKbps)} of the shipped topology.json."""
    with open(os.path.join(ROOT, "topology.json")) as f:
        links = json.load(f)["links"]
    return {frozenset(l["between"]): (l["rttMs"], l["bandwidthKbps"]) for l in links}


def topology_rtts():
    """The shipped topology.json's round trip per link, {(a, b) sorted: ms}:
    pass as Cluster(rtt_ms=...) to run on the conditions the product is for."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "topology.json")
    with open(path) as f:
        return {tuple(sorted(link["between"])): link["rttMs"] for link in json.load(f).get("links", [])}


class Region:
    """One region; duck-types chat_support.Deployment for Device."""

    def __init__(self, cluster, name, standby):
        self.cluster = cluster
        self.name = name
        self.standby = standby
        self.workdir = cluster.workdir
        self.keys = cluster.keys
        self.node_count = cluster.node_counts.get(name, 1)
        self.devices_port = consecutive_ports(self.node_count)
        self.peers_port = consecutive_ports(self.node_count)
        self.http_port = consecutive_ports(self.node_count)
        self.redis_port = free_port()
        self.redis = None
        self.nodes = []

    @property
    def settings_path(self):
        return os.path.join(self.workdir, "regions", self.name + ".json")

    def start_redis(self):
        if self.name in self.cluster.clustered:
            # The region's store is a Redis Cluster (issue 16; cluster_support.py).
            from cluster_support import RedisCluster
            self.redis = RedisCluster(os.path.join(self.workdir, "cluster-" + self.name))
            with open(self.settings_path) as f:
                settings = json.load(f)
            settings["redisCluster"] = self.redis.seeds
            with open(self.settings_path, "w") as f:
                json.dump(settings, f)
            return
        self.redis = start_redis(self.workdir, "redis-" + self.name, self.redis_port, "redis-" + self.name)

    def start_relay(self, ready="listening on mqtt://", index=0):
        """Starts node `index` (0 for a region of one node, whose `nodes`
        it then replaces)."""
        cmd = [os.environ["RELAY_BIN"], "serve", "--config", self.settings_path,
               "--topology", self.cluster.topology_path,
               "--listen", "%s:%d" % (HOST, self.devices_port + index),
               "--http-listen", "%s:%d" % (HOST, self.http_port + index),
               "--key-dir", self.keys, "--threads", "2"] + self.cluster.extra_args
        if self.node_count > 1:
            cmd += ["--node", str(index)]
        node = Process(cmd, self.workdir, "relay-%s-%d" % (self.name, len(self.cluster.restarts)), ready=ready)
        self.cluster.restarts.append(self.name)
        node.port = self.devices_port + index
        if self.node_count == 1:
            self.nodes = [node]
        else:
            self.nodes += [None] * (index + 1 - len(self.nodes))
            self.nodes[index] = node
        return node

    def wait_ready(self, timeout=30):
        """Until /readyz answers 200: the region heard a peer and serves itself."""
        import urllib.error
        import urllib.request
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen("http://%s:%d/readyz" % (HOST, self.http_port), timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("%s never became ready:\n%s" % (self.name, self.logs()))
            time.sleep(0.1)  # readiness of another process: poll, bounded

    def kill(self):
        """SIGKILL the relay and its redis-server (a region lost at once)."""
        for node in self.nodes:
            if node:
                node.stop(signal.SIGKILL)
        if self.redis:
            self.redis.stop(signal.SIGKILL)

    def token(self, user, device, ttl=None):
        cmd = [bin_path("relayctl"), "token", "issue", "--user", user, "--device", device,
               "--home", self.name, "--key-dir", self.keys]
        if ttl:
            cmd += ["--ttl", ttl]
        return subprocess.run(cmd, check=True, timeout=60, capture_output=True, text=True).stdout.strip()

    def redis_cli(self, *args):
        out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(self.redis_port)] + [str(a) for a in args],
                             check=True, timeout=30, capture_output=True, text=True)
        return out.stdout.strip()

    def metrics(self):
        import urllib.request
        with urllib.request.urlopen("http://%s:%d/metrics" % (HOST, self.http_port), timeout=10) as r:
            return r.read().decode()

    def logs(self):
        return "\n".join("--- %s\n%s" % (p.name, p.tail()) for p in [self.redis] + self.nodes if p)


class Cluster:
    def __init__(self, workdir, names=("us-east", "eu-west", "ap-south"), standbys=None,
                 mirror="async", proxies=False, rtt_ms=0, extra_args=(), automatic=False, settings=None,
                 clustered=(), nodes=None):
        """rtt_ms: one round trip for every link, {(a, b) sorted: ms}
        (topology_rtts()), or TOPOLOGY (the shipped links' round trips and
        bandwidths); settings: more keys for every regions/<name>.json;
        clustered: regions whose store is a Redis Cluster (cluster_support);
        nodes: {region: relay nodes} for regions of more than one node."""
        self.clustered = set(clustered)
        self.node_counts = dict(nodes or {})
        self.workdir = str(workdir)
        self.keys = os.path.join(self.workdir, "keys")
        self.extra_args = list(extra_args)
        self.restarts = []
        subprocess.run([bin_path("relayctl"), "keys", "init", "--dir", self.keys],
                       check=True, timeout=60, capture_output=True)
        standbys = standbys or {n: DEFAULT_STANDBYS.get(n) for n in names}
        self.regions = {n: Region(self, n, standbys.get(n)) for n in names}
        self.proxies = {}
        self.links = []
        shipped = shipped_links() if rtt_ms == TOPOLOGY else {}
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if isinstance(rtt_ms, dict):
                    rtt, kbps = rtt_ms.get(tuple(sorted((a, b))), 0), 100000
                else:
                    rtt, kbps = shipped.get(frozenset((a, b)), (0 if rtt_ms == TOPOLOGY else rtt_ms, 100000))
                link = {"between": [a, b], "rttMs": rtt, "bandwidthKbps": kbps, "loss": 0, "proxies": []}
                if proxies:
                    for to in (a, b):
                        p = {"to": to, "listen": "%s:%d" % (HOST, free_port()), "control": "%s:%d" % (HOST, free_port())}
                        link["proxies"].append(p)
                self.links.append(link)
        self.topology_path = os.path.join(self.workdir, "topology.json")
        os.makedirs(os.path.join(self.workdir, "regions"), exist_ok=True)
        topology = {"regions": [], "links": self.links}
        if automatic:
            # Automatic failover by majority (decision 0018), at its default timings.
            topology["failover"] = {"automatic": True, "unreachableAfterMs": 2000}
        for r in self.regions.values():
            entry = {"name": r.name, "settings": "regions/%s.json" % r.name,
                     "devices": "%s:%d" % (HOST, r.devices_port), "peers": "%s:%d" % (HOST, r.peers_port),
                     "http": "%s:%d" % (HOST, r.http_port)}
            if r.standby:
                entry["standby"] = r.standby
            if r.node_count > 1:
                entry["nodes"] = r.node_count
            topology["regions"].append(entry)
            with open(r.settings_path, "w") as f:
                json.dump(dict({"name": r.name, "redis": "%s:%d" % (HOST, r.redis_port), "mirror": mirror,
                                "sendBurst": 1000, "sendsPerSecond": 1000}, **(settings or {})), f)
        with open(self.topology_path, "w") as f:
            json.dump(topology, f, indent=2)
        try:
            for r in self.regions.values():
                r.start_redis()
            if proxies:
                self._start_proxies()
            for r in self.regions.values():
                for index in range(r.node_count):
                    r.start_relay(index=index)
            for r in self.regions.values():
                r.wait_ready()
        except BaseException:
            self.stop()
            raise

    def __getitem__(self, name):
        return self.regions[name]

    def _start_proxies(self):
        for link in self.links:
            for p in link["proxies"]:
                to = self.regions[p["to"]]
                other = [n for n in link["between"] if n != p["to"]][0]
                targets = []
                for index in range(to.node_count):
                    targets += ["--to", "%s:%d" % (HOST, to.peers_port + index)]
                proc = Process([bin_path("relayctl"), "link", "proxy", "--listen", p["listen"]] + targets
                               + ["--rtt", str(link["rttMs"]), "--control", p["control"]],
                               self.workdir, "proxy-%s-to-%s" % (other, to.name), ready="listening on")
                self.proxies[(other, to.name)] = (proc, p["control"])

    def link(self, action, a, b):
        """relayctl link cut|heal on both directions between a and b."""
        for key in ((a, b), (b, a)):
            _, control = self.proxies[key]
            subprocess.run([bin_path("relayctl"), "link", action, "--control", control],
                           check=True, timeout=30, capture_output=True)

    def relayctl(self, *args, check=True, timeout=120):
        out = subprocess.run([bin_path("relayctl")] + list(args) + ["--topology", self.topology_path],
                             timeout=timeout, capture_output=True, text=True)
        if check:
            assert out.returncode == 0, "relayctl %s failed:\n%s%s" % (" ".join(args), out.stdout, out.stderr)
        return out

    def logs(self):
        return "\n".join(r.logs() for r in self.regions.values())

    def stop(self):
        for r in self.regions.values():
            for node in r.nodes:
                if node:
                    node.stop()
            if r.redis:
                r.redis.stop()
        for proc, _ in self.proxies.values():
            proc.stop()

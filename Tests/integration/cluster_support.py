"""A region whose store is a real Redis Cluster (issue 16): redis-server
nodes in cluster mode (AOF on, fsync always) joined by `redis-cli --cluster
create`, and `relay serve` nodes given its nodes as "redisCluster" seeds.

Every wait is bounded; the cluster's health is awaited, never slept for."""

import json
import os
import signal
import subprocess
import time

from chat_support import HOST, Deployment, Process, free_port, text_of


def cli(port, *args, timeout=10):
    """redis-cli -p PORT ARGS..., its output (stdout) as text."""
    out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port)] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=timeout)
    return out.stdout


class RedisCluster:
    """masters x (1 + replicas) redis-server nodes in cluster mode on loopback."""

    def __init__(self, workdir, masters=3, replicas=1, node_timeout_ms=2000):
        self.workdir = str(workdir)
        self.replicas = replicas
        self.nodes = []  # Process objects with .port
        for _ in range(masters * (1 + replicas)):
            self.nodes.append(self._start_node(free_port(), node_timeout_ms))
        out = subprocess.run(["redis-cli", "--cluster", "create"]
                             + ["%s:%d" % (HOST, n.port) for n in self.nodes]
                             + ["--cluster-replicas", str(replicas), "--cluster-yes"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            self.stop()
            raise AssertionError("redis-cli --cluster create failed:\n%s%s" % (out.stdout, out.stderr))
        self.wait_healthy(30)

    def _start_node(self, port, node_timeout_ms):
        data = os.path.join(self.workdir, "redis-%d" % port)
        os.makedirs(data, exist_ok=True)
        proc = Process(["redis-server", "--port", str(port), "--bind", HOST, "--dir", data,
                        "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", str(node_timeout_ms),
                        "--cluster-replica-validity-factor", "0",
                        # The bus port is port + 10000 unless given.
                        "--cluster-port", str(free_port())],
                       self.workdir, "redis-%d" % port)
        proc.port = port
        deadline = time.monotonic() + 30
        while cli(port, "PING").strip() != "PONG":
            if time.monotonic() > deadline or proc.proc.poll() is not None:
                raise AssertionError("redis-%d did not start:\n%s" % (port, proc.tail()))
            time.sleep(0.05)  # polling a port that is not open yet, under a deadline
        return proc

    @property
    def seeds(self):
        return ["%s:%d" % (HOST, n.port) for n in self.nodes]

    def running(self):
        return [n for n in self.nodes if n.proc.poll() is None]

    def wait_healthy(self, timeout):
        """Until every running node says cluster_state:ok with all slots, and
        every master has its replicas online."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            ok = True
            for node in self.running():
                info = cli(node.port, "CLUSTER", "INFO")
                if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                    ok, last = False, "%d: %s" % (node.port, info[:200])
                    break
                replication = cli(node.port, "INFO", "replication")
                if "role:master" in replication and replication.count("state=online") < self.replicas:
                    ok, last = False, "%d: replicas not online" % node.port
                    break
            if ok:
                return
            time.sleep(0.1)  # the cluster converges by gossip: polled under a deadline
        raise AssertionError("the cluster did not become healthy: %s" % last)

    def masters(self):
        """{port: [(first, last), ...]} of the masters as a running node sees them."""
        result = {}
        for line in cli(self.running()[0].port, "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if len(fields) < 8 or "master" not in fields[2] or "fail" in fields[2]:
                continue
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            ranges = []
            for r in fields[8:]:
                if r.startswith("["):
                    continue
                a, _, b = r.partition("-")
                ranges.append((int(a), int(b or a)))
            result[port] = ranges
        return result

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def tail(self, n=60):
        return "\n".join("--- %s\n%s" % (p.name, p.tail(20)) for p in self.nodes)

    def stop(self, sig=signal.SIGTERM):
        for node in self.nodes:
            node.stop(sig)


class ClusterDeployment(Deployment):
    """Deployment (chat_support) whose region's store is a RedisCluster."""

    def __init__(self, workdir, nodes=1, extra_args=(), masters=3, replicas=1, settings=None):
        self._masters, self._replicas = masters, replicas
        self._settings = dict(settings or {})
        Deployment.__init__(self, workdir, nodes=nodes, extra_args=extra_args)

    def _start_redis(self):
        self.cluster = RedisCluster(os.path.join(self.workdir, "cluster"), self._masters, self._replicas)
        settings = {"name": "local", "redisCluster": self.cluster.seeds}
        settings.update(self._settings)
        self.config = os.path.join(self.workdir, "cluster-region.json")
        with open(self.config, "w") as f:
            json.dump(settings, f)
        return self.cluster

    def start_node(self, port=None):
        port = port or free_port()
        cmd = [os.environ["RELAY_BIN"], "serve", "--listen", "%s:%d" % (HOST, port),
               "--config", self.config, "--key-dir", self.keys, "--threads", "2"] + self.extra_args
        node = Process(cmd, self.workdir, "relay-%d" % port, ready="listening on mqtt://")
        node.port = port
        return node


def receive_once_in_order(device, prefix, n, acked, describe=lambda: "", timeout=90):
    """Reads `device`'s deliveries until the n messages sent as `prefix`-0000...
    (client message ids, texts "msg <i>") have all arrived, duplicates allowed,
    then checks what a counting checker asks after a fault: nothing that was
    not sent, one seq per message, every acknowledged message delivered, seqs
    1..n in send order, and first deliveries in seq order. Returns the
    deliveries as (seq, client message id, text) and the distinct seqs seen."""
    sent = {"%s-%04d" % (prefix, i): "msg %d" % i for i in range(n)}
    received = []
    deadline = time.monotonic() + timeout
    while len({cmid for _, cmid, _ in received}) < n:
        left = deadline - time.monotonic()
        assert left > 0, "%s: %d of %d messages%s" % (prefix, len({c for _, c, _ in received}), n, describe())
        try:
            (d,) = device.messages(1, timeout=min(left, 5))
        except AssertionError:
            continue  # nothing within 5 s: ask again until the deadline
        received.append((d.seq, d.client_message_id, text_of(d)))
    seq_of = {}
    for seq, cmid, text in received:
        assert cmid in sent and sent[cmid] == text, "a message that was never sent: %s %r" % (cmid, text)
        assert seq_of.setdefault(cmid, seq) == seq, "%s delivered under two seqs" % cmid
    assert set(seq_of) >= set(acked), "acknowledged but never delivered"
    assert sorted(seq_of.values()) == list(range(1, n + 1)), "one seq per message, no gaps"
    assert [seq_of["%s-%04d" % (prefix, i)] for i in range(n)] == list(range(1, n + 1)), "seqs in send order"
    firsts, seen = [], set()
    for seq, _, _ in received:
        if seq not in seen:
            seen.add(seq)
            firsts.append(seq)
    assert firsts == sorted(firsts), "out of order"
    return received, seen

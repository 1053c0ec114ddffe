"""The run directory convention of scripts/up for a test Cluster, so that
`relayctl drill failover` can kill and restart its regions:
<run>/<region>/relay-0.pid, redis.pid, and an executable `start` that starts
the region's redis-server and relay again with the same command lines, writes
their pid files, and exits once both listen."""

import os
import shlex
import signal
import time

from chat_support import HOST

START = """#!/usr/bin/env bash
# Restarts region {name} as the test Cluster ran it (written by drill_support.py).
set -u
cd {workdir}
nohup {redis} >>{run}/redis.out 2>&1 </dev/null &
echo $! >{run}/redis.pid
for _ in $(seq 300); do
  redis-cli -h {host} -p {redis_port} ping 2>/dev/null | grep -q PONG && break
  sleep 0.05
done
redis-cli -h {host} -p {redis_port} ping | grep -q PONG || {{ echo "redis-server of {name} did not start" >&2; exit 1; }}
: >{run}/relay-0.out
nohup {relay} >{run}/relay-0.out 2>>{run}/relay-0.log </dev/null &
echo $! >{run}/relay-0.pid
for _ in $(seq 600); do
  grep -q "listening on mqtt://" {run}/relay-0.out && exit 0
  kill -0 "$(cat {run}/relay-0.pid)" 2>/dev/null || break
  sleep 0.05
done
echo "relay of {name} did not start, see {run}/relay-0.log" >&2
exit 1
"""


def write_run_dir(cluster, run_dir):
    """Pid files and a start script per region of `cluster` under `run_dir`."""
    for region in cluster.regions.values():
        run = os.path.join(run_dir, region.name)
        os.makedirs(run, exist_ok=True)
        with open(os.path.join(run, "redis.pid"), "w") as f:
            f.write("%d\n" % region.redis.proc.pid)
        for i, node in enumerate(region.nodes):
            with open(os.path.join(run, "relay-%d.pid" % i), "w") as f:
                f.write("%d\n" % node.proc.pid)
        path = os.path.join(run, "start")
        with open(path, "w") as f:
            f.write(START.format(
                name=region.name, workdir=shlex.quote(cluster.workdir), run=shlex.quote(run), host=HOST,
                redis_port=region.redis_port,
                redis=" ".join(shlex.quote(a) for a in region.redis.proc.args),
                relay=" ".join(shlex.quote(a) for a in region.nodes[0].proc.args)))
        os.chmod(path, 0o755)


def stop_restarted(cluster, run_dir, timeout=15):
    """Stops what the start scripts started (processes that are not the Cluster's children)."""
    own = {r.redis.proc.pid for r in cluster.regions.values() if r.redis}
    own |= {n.proc.pid for r in cluster.regions.values() for n in r.nodes}
    pids = []
    for region in cluster.regions.values():
        run = os.path.join(run_dir, region.name)
        for name in sorted(os.listdir(run)) if os.path.isdir(run) else []:
            if not name.endswith(".pid"):
                continue
            with open(os.path.join(run, name)) as f:
                pid = int(f.read().strip() or 0)
            if pid > 0 and pid not in own:
                pids.append(pid)
    # Relays first, so that they do not log a lost Redis on the way down.
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in pids:
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for a process that is not our child to exit: no event to await
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def alive(pid):
    """True while `pid` runs (an exited process nobody reaped, a zombie, is not alive)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False

"""Dead letters (issue 10, item 11): a pending fan-out the sweeper can never
finish is set aside instead of failing on every sweep, shows on /readyz and
in /metrics, and an operator lists, retries and drops it with relayctl."""

import json
import os
import subprocess
import time
import urllib.request

import pytest

from chat_support import HOST, Deployment, Device, bin_path, direct, free_port, unique_names

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

POISON = "not a conversation"
KEY = "fanout:%s:7" % POISON


@pytest.fixture
def region(tmp_path):
    http = free_port()
    d = Deployment(tmp_path, nodes=1, extra_args=["--http-listen", "%s:%d" % (HOST, http)])
    d.http_port = http
    yield d
    d.stop()


def relayctl(region, *args, check=True):
    out = subprocess.run([bin_path("relayctl"), "deadletter"] + list(args) + ["--redis", "%s:%d" % (HOST, region.redis_port)],
                         timeout=60, capture_output=True, text=True)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def letters(region):
    return json.loads(relayctl(region, "list", "--json").stdout)


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)  # the sweeper runs every 5 s in the relay process: poll, bounded


def get(region, path):
    with urllib.request.urlopen("http://%s:%d%s" % (HOST, region.http_port, path), timeout=10) as r:
        return r.read().decode()


def test_a_fan_out_that_can_never_finish_is_set_aside_and_handled_by_relayctl(region):
    assert letters(region) == []
    assert json.loads(get(region, "/readyz"))["checks"]["deadletters"]["detail"] == "none set aside"
    # What a crash could leave behind with a key no send could make.
    subprocess.run(["redis-cli", "-h", HOST, "-p", str(region.redis_port), "ZADD", "{c:%s}:pending" % POISON, "0", "7"],
                   check=True, timeout=10, capture_output=True)
    wait_for(lambda: [l["key"] for l in letters(region)] == [KEY], "the sweeper did not set the fan-out aside")
    (letter,) = letters(region)
    assert letter["kind"] == "fanout" and letter["source"] == POISON and letter["id"] == 7 and letter["attempts"] == 1
    assert "bad_request" in letter["error"]
    ready = json.loads(get(region, "/readyz"))
    assert ready["ready"] and ready["checks"]["deadletters"]["detail"].startswith("1 set aside")
    assert "relay_fanouts_quarantined_total 1" in get(region, "/metrics")
    # Out of the pending set: it is no longer tried on every sweep.
    pending = subprocess.run(["redis-cli", "-h", HOST, "-p", str(region.redis_port), "ZCARD", "{c:%s}:pending" % POISON],
                             check=True, timeout=10, capture_output=True, text=True).stdout.strip()
    assert pending == "0"

    # Retried, it fails for good again: set aside with one more attempt.
    assert relayctl(region, "retry", KEY).stdout.strip() == KEY + ": queued for retry"
    wait_for(lambda: [l["attempts"] for l in letters(region)] == [2], "the retried letter did not come back")
    # Dropped, it is gone; acting on a letter that is not there says so.
    assert relayctl(region, "drop", KEY).stdout.strip() == KEY + ": dropped"
    assert letters(region) == []
    missing = relayctl(region, "drop", KEY, check=False)
    assert missing.returncode != 0 and "no dead letter " + KEY in missing.stderr
    assert region.nodes[0].proc.poll() is None


def test_a_retried_fan_out_that_can_finish_now_is_gone(region):
    names = unique_names()
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    conversation = direct(alice, bob)
    a.send(conversation, "first")
    # As if its fan-out had been set aside (say, by an older relay).
    key = "fanout:%s:1" % conversation
    cli = ["redis-cli", "-h", HOST, "-p", str(region.redis_port)]
    subprocess.run(cli + ["HSET", "r:dead:e:" + key, "kind", "fanout", "source", conversation, "id", "1",
                          "error", "bad_request: test", "at", "0", "attempts", "1", "body", ""],
                   check=True, timeout=10, capture_output=True)
    subprocess.run(cli + ["ZADD", "r:dead", "0", key], check=True, timeout=10, capture_output=True)
    assert [l["key"] for l in letters(region)] == [key]
    relayctl(region, "retry", key)
    wait_for(lambda: subprocess.run(cli + ["EXISTS", "r:dead:e:" + key], check=True, timeout=10,
                                    capture_output=True, text=True).stdout.strip() == "0",
             "the retried letter was not applied")
    assert letters(region) == []
    assert region.nodes[0].proc.poll() is None

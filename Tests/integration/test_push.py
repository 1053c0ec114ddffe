"""Push notifications for offline devices (issue 14, docs/push.md): real
relays and redis-servers, paho devices, and an independent Web Push
receiver (push_receiver.py: VAPID checked with `cryptography`, bodies
decrypted with PyPI's `http-ece`). Every wait is bounded."""

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

pytest.importorskip("http_ece", reason="http-ece from PyPI: scripts/test installs it into .venv-tests")

from chat_support import HOST, Deployment, Device, direct, free_port, text_of, unique_names  # noqa: E402
from push_receiver import PushReceiver  # noqa: E402
from regions_support import Cluster  # noqa: E402


def http_get(port, path):
    with urllib.request.urlopen("http://%s:%d%s" % (HOST, port, path), timeout=10) as r:
        return r.read().decode()


def redis_cli(port, *args):
    # -c follows a cluster's MOVED (test_cluster_push runs these tests on a cluster).
    return subprocess.run(["redis-cli", "-c", "-h", HOST, "-p", str(port)] + [str(a) for a in args],
                          check=True, timeout=30, capture_output=True, text=True).stdout.strip()


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("%s not within %ss" % (what, timeout))
        time.sleep(0.05)  # state of another process (Redis): poll, bounded


def wait_offline(redis_port, device):
    """Until no relay node listens for the device (its disconnect was handled)."""
    wait_until(lambda: redis_cli(redis_port, "PUBSUB", "SHARDNUMSUB", "d:" + device).split()[-1] == "0",
               10, "%s offline" % device)


def register(device, sub):
    pb = device.pb
    reg = pb.PushRegister()
    reg.web_push.endpoint = sub.endpoint
    reg.web_push.p256dh = sub.p256dh
    reg.web_push.auth = sub.auth
    resp = device.request("push.register", push_register=reg)
    assert not resp.HasField("error"), resp.error
    return resp


def metric(text, name, **labels):
    total = None
    for line in text.splitlines():
        if line.startswith(name) and all('%s="%s"' % kv in line for kv in labels.items()):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def region(tmp_path):
    settings = os.path.join(str(tmp_path), "local.json")
    with open(settings, "w") as f:
        # The receiver is on loopback: allowed here only (docs/push.md).
        json.dump({"name": "local", "pushAllowPrivateEndpoints": True, "sendBurst": 1000, "sendsPerSecond": 1000}, f)
    http_port = free_port()
    d = Deployment(tmp_path, extra_args=["--config", settings, "--http-listen", "%s:%d" % (HOST, http_port)])
    d.http_port = http_port
    d.nodes[0].wait_for("http on", 30)  # the HTTP endpoint starts after the MQTT listener
    receiver = PushReceiver(http_get(http_port, "/push/vapid").strip())
    d.receiver = receiver
    yield d
    receiver.stop()
    d.stop()


def offline_with_push(region, user, device, name=None):
    """A device that registered a push target, then went offline."""
    sub = region.receiver.subscribe(name or device)
    dev = Device(region, user, device)
    register(dev, sub)
    dev.close()
    wait_offline(region.redis_port, device)
    return sub


def test_vapid_key_is_published_and_registration_is_checked(region):
    key = http_get(region.http_port, "/push/vapid").strip()
    assert len(key) == 87 and key.startswith("B")  # base64url of a 65-byte uncompressed P-256 point
    n = unique_names()
    d = Device(region, n("u"), n("u") + "-d")
    pb = d.pb
    reg = pb.PushRegister()
    reg.web_push.endpoint = "http://%s:1/push/x" % HOST
    reg.web_push.p256dh = b"\x04" + b"\x01" * 64  # not a point on P-256
    reg.web_push.auth = os.urandom(16)
    resp = d.request("push.register", push_register=reg)
    assert resp.error.code == "bad_request" and "p256dh" in resp.error.message
    resp = d.request("push.register", push_register=pb.PushRegister())
    assert resp.error.code == "bad_request"
    assert not d.request("push.unregister", push_unregister=pb.PushUnregister()).HasField("error")
    d.close()


def test_offline_device_gets_one_push_within_2s_then_connects_and_drains(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    a = Device(region, alice, alice + "-d")
    sub = offline_with_push(region, bob, bob + "-d")
    sent_at = time.monotonic()
    a.send(direct(alice, bob), "secret words")
    region.receiver.wait(lambda: len(sub.pushes) >= 1, 2, "a push within 2 s of the send")
    push = sub.pushes[0]
    assert push["at"] - sent_at <= 2
    assert push["hint"]["urgency"] == "high" and push["headers"]["Urgency"] == "high"
    # Nothing of the message, sender or conversation in the push.
    assert b"secret" not in push["body"] and alice.encode() not in push["body"]
    assert set(push["hint"]) == {"type", "id", "urgency"}
    b = Device(region, bob, bob + "-d")
    assert [text_of(m) for m in b.messages(1)] == ["secret words"]
    assert len(sub.pushes) == 1 and len(sub.attempts) == 1
    assert region.receiver.errors == []
    m = http_get(region.http_port, "/metrics")
    assert metric(m, "relay_pushes_sent_total", provider="webpush") >= 1
    assert metric(m, "relay_push_latency_seconds_count") >= 1
    a.close(); b.close()


def test_ten_messages_while_offline_make_one_push(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    a = Device(region, alice, alice + "-d")
    sub = offline_with_push(region, bob, bob + "-d")
    for i in range(10):
        a.send(direct(alice, bob), "m%d" % i)
    region.receiver.wait(lambda: len(sub.pushes) >= 1, 5, "the push")
    # Coalesced: the other nine were merged into it or fell within the window.
    assert region.receiver.stays(lambda: len(sub.attempts) == 1, 1.5)
    b = Device(region, bob, bob + "-d")
    assert [text_of(m) for m in b.messages(10)] == ["m%d" % i for i in range(10)]
    assert len(sub.attempts) == 1 and region.receiver.errors == []
    assert metric(http_get(region.http_port, "/metrics"), "relay_pushes_coalesced_total") >= 1
    a.close(); b.close()


def test_503_is_retried_after_retry_after_and_delivered_once(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    a = Device(region, alice, alice + "-d")
    sub = offline_with_push(region, bob, bob + "-d")
    sub.script.append((503, {"Retry-After": "1"}))
    a.send(direct(alice, bob), "hello")
    region.receiver.wait(lambda: len(sub.pushes) == 1, 10, "the retried push")
    assert [x["status"] for x in sub.attempts] == [503, 201]
    assert sub.attempts[1]["at"] - sub.attempts[0]["at"] >= 1.0  # Retry-After honoured
    assert region.receiver.stays(lambda: len(sub.attempts) == 2, 1.0)
    assert metric(http_get(region.http_port, "/metrics"), "relay_pushes_retried_total", provider="webpush") >= 1
    assert region.receiver.errors == []
    a.close()


def test_410_removes_the_registration_and_it_is_never_tried_again(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    a = Device(region, alice, alice + "-d")
    sub = offline_with_push(region, bob, bob + "-d")
    key = "{d:%s}:push" % (bob + "-d")
    assert redis_cli(region.redis_port, "EXISTS", key) == "1"
    sub.script.append((410, {}))
    a.send(direct(alice, bob), "one")
    region.receiver.wait(lambda: len(sub.attempts) == 1, 5, "the push answered 410")
    wait_until(lambda: redis_cli(region.redis_port, "EXISTS", key) == "0", 5, "the registration removed")
    a.send(direct(alice, bob), "two")
    assert region.receiver.stays(lambda: len(sub.attempts) == 1, 1.5)
    assert metric(http_get(region.http_port, "/metrics"), "relay_pushes_failed_total", provider="webpush", reason="gone") == 1
    a.close()


def test_relay_killed_with_a_push_pending_sends_it_after_restart(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    a = Device(region, alice, alice + "-d")
    sub = offline_with_push(region, bob, bob + "-d")
    sub.script.append((503, {"Retry-After": "2"}))
    a.send(direct(alice, bob), "while you were out")
    region.receiver.wait(lambda: len(sub.attempts) == 1, 5, "the first try")
    state = "{d:%s}:pushstate" % (bob + "-d")
    wait_until(lambda: redis_cli(region.redis_port, "HGET", state, "attempts") == "1", 5, "the retry recorded")
    a.close()
    region.restart_node(0, signal.SIGKILL)
    region.receiver.wait(lambda: len(sub.pushes) == 1, 15, "the pending push after the restart")
    assert [x["status"] for x in sub.attempts] == [503, 201]
    assert region.receiver.stays(lambda: len(sub.attempts) == 2, 1.0)
    assert redis_cli(region.redis_port, "ZSCORE", "push:due", bob + "-d") == ""
    assert region.receiver.errors == []


@pytest.fixture
def two_regions(tmp_path):
    c = Cluster(tmp_path, names=("us-east", "eu-west"), standbys={"us-east": "eu-west", "eu-west": "us-east"},
                settings={"pushAllowPrivateEndpoints": True})
    yield c
    c.stop()


def test_after_a_failover_the_standby_pushes(two_regions):
    cluster = two_regions
    us, eu = cluster["us-east"], cluster["eu-west"]
    receiver = PushReceiver(http_get(us.http_port, "/push/vapid").strip())
    try:
        assert http_get(eu.http_port, "/push/vapid").strip() == receiver.vapid_key  # one deployment key
        n = unique_names()
        alice, bob = n("alice"), n("bob")  # alice sorts first: the conversation lives in eu-west
        sub = receiver.subscribe(bob)
        b = Device(us, bob, bob + "-d")
        register(b, sub)
        b.close()
        wait_offline(us.redis_port, bob + "-d")
        # The registration reached the standby.
        wait_until(lambda: redis_cli(eu.redis_port, "HGET", "{d:%s}:push" % (bob + "-d"), "endpoint") == sub.endpoint,
                   15, "the registration mirrored to eu-west")
        a = Device(eu, alice, alice + "-d")
        a.send(direct(alice, bob), "before")
        receiver.wait(lambda: len(sub.pushes) == 1, 5, "us-east's push")
        # Only the serving region pushes: eu-west holds a copy of bob's queue but does not push.
        assert receiver.stays(lambda: len(sub.attempts) == 1, 1.5)

        us.kill()
        out = cluster.relayctl("failover", "--region", "us-east")
        assert "failed over to eu-west" in out.stdout
        a.send(direct(alice, bob), "after")
        receiver.wait(lambda: len(sub.pushes) == 2, 10, "eu-west's push after the failover")
        assert receiver.errors == []
        b = Device(us, bob, bob + "-d", connect=False)
        b.connect(port=eu.devices_port)
        assert [text_of(m) for m in b.messages(2)] == ["before", "after"]
        a.close(); b.close()
    finally:
        receiver.stop()

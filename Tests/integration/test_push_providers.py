"""APNs and FCM pushes (issue 14 items 3 and 5, docs/push.md) against local
stand-ins that check the request shape each provider documents
(provider_standins.py: HTTP/2 and the ES256 provider token for APNs, the
RS256 service-account grant and a data-only HTTP v1 message for FCM). Real
relay and redis-server; devices register with `relay-cli push register`.
Every wait is bounded."""

import json
import os
import subprocess

import pytest

pytest.importorskip("h2", reason="python3-h2 (Debian): scripts/lib.sh installs it")

from chat_support import HOST, Deployment, Device, bin_path, direct, free_port, text_of, unique_names  # noqa: E402
from provider_standins import APNsStandIn, FCMStandIn, apns_error, fcm_error  # noqa: E402
from test_push import http_get, metric, redis_cli, wait_offline, wait_until  # noqa: E402

TOPIC = "com.example.chat"


@pytest.fixture
def region(tmp_path):
    apns = APNsStandIn(str(tmp_path), topic=TOPIC)
    fcm = FCMStandIn(str(tmp_path))
    settings = os.path.join(str(tmp_path), "local.json")
    with open(settings, "w") as f:
        json.dump({
            "name": "local", "sendBurst": 1000, "sendsPerSecond": 1000,
            # The stand-ins are on loopback: allowed here only (docs/push.md).
            "pushAllowPrivateEndpoints": True,
            "pushAPNsKeyFile": apns.key_path, "pushAPNsKeyID": apns.key_id, "pushAPNsTeamID": apns.team_id,
            "pushAPNsURL": apns.url, "pushAPNsSandboxURL": apns.url, "pushCAFile": apns.cert_path,
            "pushFCMServiceAccountFile": fcm.account_path, "pushFCMURL": fcm.url,
        }, f)
    http_port = free_port()
    d = Deployment(tmp_path, extra_args=["--config", settings, "--http-listen", "%s:%d" % (HOST, http_port)])
    d.http_port = http_port
    d.nodes[0].wait_for("http on", 30)
    d.apns, d.fcm = apns, fcm
    yield d
    apns.stop()
    fcm.stop()
    d.stop()


def cli(region, user, device, *args):
    cmd = [bin_path("relay-cli"), "--user", user, "--device", device,
           "--token", region.token(user, device), "--state", os.path.join(region.workdir, "cli-state", device),
           "--server", "%s:%d" % (HOST, region.nodes[0].port), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def offline_with(region, user, device, *target):
    """A device that registered a push target with relay-cli, then went offline."""
    out = cli(region, user, device, "push", "register", *target)
    assert out.returncode == 0, out.stderr
    wait_offline(region.redis_port, device)


def apns_token():
    return os.urandom(32).hex()


def test_apns_offline_device_gets_one_alert_push_with_no_content(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    token = apns_token()
    a = Device(region, alice, alice + "-d")
    offline_with(region, bob, bob + "-d", "--apns", token, "--topic", TOPIC)
    a.send(direct(alice, bob), "secret words")
    region.apns.wait(lambda: len(region.apns.to(token)) >= 1, 5, "the APNs push")
    push = region.apns.to(token)[0]
    assert push["status"] == 200 and push["headers"]["apns-push-type"] == "alert"
    assert push["headers"]["apns-collapse-id"] and push["headers"]["apns-priority"] == "10"
    assert b"secret" not in push["body"] and alice.encode() not in push["body"] and bob.encode() not in push["body"]
    b = Device(region, bob, bob + "-d")
    assert [text_of(m) for m in b.messages(1)] == ["secret words"]
    assert len(region.apns.to(token)) == 1 and region.apns.errors == []
    wait_until(lambda: (metric(http_get(region.http_port, "/metrics"), "relay_pushes_sent_total", provider="apns") or 0) >= 1,
               5, "the APNs push counted")
    m = http_get(region.http_port, "/metrics")
    assert metric(m, "relay_push_auth_tokens_total", provider="apns", result="signed") == 1
    a.close(); b.close()


def test_apns_status_wakes_with_a_background_push_on_the_sandbox(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    token = apns_token()
    a = Device(region, alice, alice + "-d")
    a.close()
    wait_offline(region.redis_port, alice + "-d")
    out = cli(region, bob, bob + "-d", "push", "register", "--apns", token, "--topic", TOPIC, "--sandbox")
    assert out.returncode == 0, out.stderr
    b = Device(region, bob, bob + "-d")
    b.send(direct(bob, alice), "hi")
    b.close()
    wait_offline(region.redis_port, bob + "-d")
    a = Device(region, alice, alice + "-d")
    assert [text_of(m) for m in a.messages(1)] == ["hi"]  # alice's DELIVERED goes to bob, offline
    region.apns.wait(lambda: len(region.apns.to(token)) >= 1, 5, "the APNs push for the status")
    push = region.apns.to(token)[0]
    assert push["headers"]["apns-push-type"] == "background" and push["headers"]["apns-priority"] == "5"
    assert json.loads(push["body"])["aps"] == {"content-available": 1}
    assert region.apns.errors == []
    a.close()


@pytest.mark.parametrize("status,reason", [(410, "Unregistered"), (400, "BadDeviceToken")])
def test_apns_unregistered_or_bad_token_removes_the_registration(region, status, reason):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    token = apns_token()
    a = Device(region, alice, alice + "-d")
    offline_with(region, bob, bob + "-d", "--apns", token, "--topic", TOPIC)
    key = "{d:%s}:push" % (bob + "-d")
    assert redis_cli(region.redis_port, "HGET", key, "kind") == "apns"
    region.apns.script(token, (status, {}, apns_error(reason)))
    a.send(direct(alice, bob), "one")
    region.apns.wait(lambda: len(region.apns.to(token)) == 1, 5, "the push answered %d" % status)
    wait_until(lambda: redis_cli(region.redis_port, "EXISTS", key) == "0", 5, "the registration removed")
    a.send(direct(alice, bob), "two")
    assert region.apns.stays(lambda: len(region.apns.to(token)) == 1, 1.5)
    assert metric(http_get(region.http_port, "/metrics"), "relay_pushes_failed_total", provider="apns", reason="gone") == 1
    assert region.apns.errors == []
    a.close()


def test_apns_429_is_retried_after_retry_after(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    token = apns_token()
    a = Device(region, alice, alice + "-d")
    offline_with(region, bob, bob + "-d", "--apns", token, "--topic", TOPIC)
    region.apns.script(token, (429, {"retry-after": "1"}, apns_error("TooManyRequests")))
    a.send(direct(alice, bob), "hello")
    region.apns.wait(lambda: len(region.apns.to(token)) == 2, 10, "the retried push")
    tries = region.apns.to(token)
    assert [t["status"] for t in tries] == [429, 200]
    assert tries[1]["at"] - tries[0]["at"] >= 1.0  # Retry-After honoured
    assert region.apns.stays(lambda: len(region.apns.to(token)) == 2, 1.0)
    assert metric(http_get(region.http_port, "/metrics"), "relay_pushes_retried_total", provider="apns") >= 1
    assert region.apns.errors == []
    a.close()


def test_apns_throttling_one_device_does_not_stop_pushes_to_others(region):
    """429 TooManyRequests is about one device token: five in a row must not
    open the provider's circuit breaker (threshold 5, 30 s cooldown)."""
    n = unique_names()
    alice = n("alice")
    a = Device(region, alice, alice + "-d")
    throttled = []
    for i in range(5):
        user, token = n("bob%d" % i), apns_token()
        offline_with(region, user, user + "-d", "--apns", token, "--topic", TOPIC)
        region.apns.script(token, (429, {"retry-after": "60"}, apns_error("TooManyRequests")))
        throttled.append((user, token))
    carol, carol_token = n("carol"), apns_token()
    offline_with(region, carol, carol + "-d", "--apns", carol_token, "--topic", TOPIC)
    for user, _ in throttled:
        a.send(direct(alice, user), "hi")
    region.apns.wait(lambda: all(len(region.apns.to(t)) == 1 for _, t in throttled), 10, "the five throttled pushes")
    a.send(direct(alice, carol), "hi")
    region.apns.wait(lambda: len(region.apns.to(carol_token)) == 1, 5, "carol's push, the breaker still closed")
    assert region.apns.to(carol_token)[0]["status"] == 200
    assert metric(http_get(region.http_port, "/metrics"), "relay_pushes_retried_total", provider="apns") >= 5
    assert region.apns.errors == []
    a.close()


def test_fcm_data_only_pushes_share_one_access_token(region):
    n = unique_names()
    alice, bob, carol = n("alice"), n("bob"), n("carol")
    tb, tc = "fcm-" + os.urandom(12).hex(), "fcm-" + os.urandom(12).hex()
    a = Device(region, alice, alice + "-d")
    offline_with(region, bob, bob + "-d", "--fcm", tb)
    offline_with(region, carol, carol + "-d", "--fcm", tc)
    a.send(direct(alice, bob), "secret for bob")
    region.fcm.wait(lambda: len(region.fcm.to(tb)) == 1, 5, "bob's FCM push")
    a.send(direct(alice, carol), "secret for carol")
    region.fcm.wait(lambda: len(region.fcm.to(tc)) == 1, 5, "carol's FCM push")
    for t in (tb, tc):
        push = region.fcm.to(t)[0]
        assert push["status"] == 200 and b"secret" not in push["body"] and alice.encode() not in push["body"]
        assert json.loads(push["body"])["message"]["android"]["priority"] == "HIGH"
    assert len(region.fcm.grants) == 1  # the access token was cached
    b = Device(region, bob, bob + "-d")
    assert [text_of(m) for m in b.messages(1)] == ["secret for bob"]
    assert region.fcm.errors == []
    # The stand-in records a push as it answers; the relay counts it once it has read the answer.
    wait_until(lambda: metric(http_get(region.http_port, "/metrics"), "relay_pushes_sent_total", provider="fcm") == 2,
               5, "both FCM pushes counted")
    m = http_get(region.http_port, "/metrics")
    assert metric(m, "relay_push_auth_tokens_total", provider="fcm", result="granted") == 1
    a.close(); b.close()


def test_fcm_unregistered_removes_the_registration(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    token = "fcm-" + os.urandom(12).hex()
    a = Device(region, alice, alice + "-d")
    offline_with(region, bob, bob + "-d", "--fcm", token)
    region.fcm.script(token, (404, {}, fcm_error(404, "NOT_FOUND", "UNREGISTERED")))
    a.send(direct(alice, bob), "one")
    region.fcm.wait(lambda: len(region.fcm.to(token)) == 1, 5, "the push answered 404")
    wait_until(lambda: redis_cli(region.redis_port, "EXISTS", "{d:%s}:push" % (bob + "-d")) == "0", 5, "the registration removed")
    a.send(direct(alice, bob), "two")
    assert region.fcm.stays(lambda: len(region.fcm.to(token)) == 1, 1.5)
    assert metric(http_get(region.http_port, "/metrics"), "relay_pushes_failed_total", provider="fcm", reason="gone") == 1
    assert region.fcm.errors == []
    a.close()


def test_fcm_503_and_a_failed_grant_are_retried(region):
    n = unique_names()
    alice, bob = n("alice"), n("bob")
    token = "fcm-" + os.urandom(12).hex()
    a = Device(region, alice, alice + "-d")
    offline_with(region, bob, bob + "-d", "--fcm", token)
    with region.fcm.cond:
        region.fcm.grant_script.append(503)  # the first grant fails: the push waits and retries
    region.fcm.script(token, (503, {"Retry-After": "1"}, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE")))
    a.send(direct(alice, bob), "hello")
    region.fcm.wait(lambda: len(region.fcm.to(token)) == 2, 15, "the retried FCM push")
    tries = region.fcm.to(token)
    assert [t["status"] for t in tries] == [503, 200]
    assert tries[1]["at"] - tries[0]["at"] >= 1.0
    assert region.fcm.stays(lambda: len(region.fcm.to(token)) == 2, 1.0)
    wait_until(lambda: (metric(http_get(region.http_port, "/metrics"), "relay_pushes_retried_total", provider="fcm") or 0) >= 2,
               5, "the FCM retries counted")
    m = http_get(region.http_port, "/metrics")
    assert metric(m, "relay_push_auth_tokens_total", provider="fcm", result="failed") == 1
    assert region.fcm.errors == []
    a.close()

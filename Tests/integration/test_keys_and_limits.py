"""The key directory (keys.upload / keys.fetch) and the per-device rate
limits, against a real redis-server and relay serve nodes, with paho clients
and real keys in the Signal protocol's formats (Debian's python3-axolotl:
Curve25519 keys, XEdDSA signatures)."""

import math
import os
import random
import subprocess
import threading
import time
import uuid

import pytest
from axolotl.ecc.curve import Curve

from chat_support import (ROOT, Deployment, Device, await_responses, publish_request,
                          record_puback_codes, text_of)
from signal_keys import SignalKeys, public_key

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

QUOTA_EXCEEDED = 0x97


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("keys"), nodes=2)
    yield d
    d.stop()


@pytest.fixture
def names():
    tag = uuid.uuid4().hex[:8]
    return lambda name: "%s-%s" % (name, tag)


class Keys(SignalKeys):
    """A device's key material, as a client would make it."""


def upload(device, keys, **kw):
    resp = device.request("keys.upload", keys_upload=keys.upload(**kw))
    assert not resp.HasField("error"), resp.error
    assert resp.HasField("ok")


def fetch(device, user):
    return device.request("keys.fetch", keys_fetch=device.pb.KeysFetch(user=user))


def events(device, n, timeout=20):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        _, payload, _ = device.next(deadline - time.monotonic(), suffix="/e")
        event = device.pb.Event()
        event.ParseFromString(payload)
        out.append(event)
    return out


# ---------------------------------------------------------------- key directory

def test_upload_and_fetch_round_trip(region, names):
    alice, bob = names("alice"), names("bob")
    phone = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone", node=1)
    keys = Keys(phone.pb, one_time=20)
    upload(phone, keys)

    resp = fetch(b, alice)
    assert not resp.HasField("error"), resp.error
    assert resp.key_bundles.user == alice
    (bundle,) = resp.key_bundles.bundles
    assert bundle.device == alice + "-phone"
    assert bundle.identity_key == keys.identity_public
    assert bundle.signed_prekey == keys.signed
    assert bundle.one_time_prekey == keys.one_time[0]
    assert bundle.last_resort_prekey == keys.last_resort
    assert (bundle.registration_id, bundle.device_id) == (keys.registration_id, keys.device_id)
    # What the fetching client checks before it starts a session.
    assert Curve.verifySignature(Curve.decodePoint(bundle.identity_key), bundle.signed_prekey.public_key,
                                 bundle.signed_prekey.signature)

    # The next fetch gets the next one-time prekey: each is handed out once.
    assert fetch(b, alice).key_bundles.bundles[0].one_time_prekey == keys.one_time[1]
    # A device does not fetch its own bundle; a user without keys is not found.
    assert fetch(phone, alice).error.code == "not_found"
    assert fetch(phone, bob).error.code == "not_found"
    phone.close()
    b.close()


def test_bad_uploads_are_refused(region, names):
    alice = names("alice")
    phone = Device(region, alice, alice + "-phone")
    keys = Keys(phone.pb, one_time=2)

    forged = keys.upload()
    forged.signed_prekey.signature = Curve.calculateSignature(Curve.generateKeyPair().getPrivateKey(),
                                                              forged.signed_prekey.public_key)
    assert phone.request("keys.upload", keys_upload=forged).error.code == "bad_signature"

    # A signature over another key, by the right identity key.
    forged = keys.upload()
    forged.signed_prekey.public_key = public_key()
    assert phone.request("keys.upload", keys_upload=forged).error.code == "bad_signature"

    # An Ed25519-style raw 32-byte key is not a Signal key.
    short = keys.upload()
    short.signed_prekey.public_key = short.signed_prekey.public_key[1:]
    assert phone.request("keys.upload", keys_upload=short).error.code == "bad_request"

    wrong_type = keys.upload()
    wrong_type.identity_key = b"\x06" + keys.identity_public[1:]
    assert phone.request("keys.upload", keys_upload=wrong_type).error.code == "bad_request"

    no_ids = keys.upload()
    no_ids.registration_id = 0
    assert phone.request("keys.upload", keys_upload=no_ids).error.code == "bad_request"

    short = keys.upload()
    short.identity_key = keys.identity_public[:31]
    assert phone.request("keys.upload", keys_upload=short).error.code == "bad_request"

    short = keys.upload()
    short.one_time_prekeys[1].public_key = b"\x01" * 33
    assert phone.request("keys.upload", keys_upload=short).error.code == "bad_request"

    too_many = Keys(phone.pb, one_time=201).upload()
    assert phone.request("keys.upload", keys_upload=too_many).error.code == "bad_request"

    # Nothing of the refused uploads was stored.
    b = Device(region, names("bob"), names("bob") + "-phone")
    assert fetch(b, alice).error.code == "not_found"
    phone.close()
    b.close()


def test_concurrent_fetches_hand_out_each_one_time_prekey_once(region, names):
    target = names("target")
    phone = Device(region, target, target + "-phone")
    keys = Keys(phone.pb, one_time=10)
    upload(phone, keys)

    fetchers = [Device(region, names("f%d" % i), names("f%d" % i) + "-d", node=i % 2) for i in range(20)]
    start = threading.Barrier(len(fetchers))
    results = [None] * len(fetchers)

    def run(i):
        start.wait(30)
        results[i] = fetch(fetchers[i], target)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fetchers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive()

    bundles = []
    for resp in results:
        assert resp is not None and not resp.HasField("error"), resp
        (bundle,) = resp.key_bundles.bundles
        bundles.append(bundle)
    handed = [b.one_time_prekey.id for b in bundles if b.HasField("one_time_prekey")]
    assert sorted(handed) == [p.id for p in keys.one_time]  # each exactly once
    for b in bundles:
        if not b.HasField("one_time_prekey"):
            assert b.last_resort_prekey == keys.last_resort
    assert len(handed) == 10

    # The target hears once that its prekeys run low: at the first fetch
    # (10 -> 9 left), not again for the fetches after it.
    (first,) = events(phone, 1)
    assert first.WhichOneof("event") == "prekeys_low"
    assert (first.prekeys_low.device, first.prekeys_low.remaining) == (target + "-phone", 9)

    # An upload clears the flag: the next crossing is told again. Events
    # arrive in queue order, so a duplicate of the first would come first.
    more = Keys(phone.pb, one_time=3, first_id=100, identity=keys.identity)
    skipped = []
    rid = publish_request(phone, "keys.upload", keys_upload=more.upload())
    assert not await_responses(phone, [rid], skipped=skipped)[rid].HasField("error")
    assert [t for t, _, _ in skipped if t.endswith("/e")] == []
    assert fetch(fetchers[0], target).key_bundles.bundles[0].one_time_prekey.id == 100
    (second,) = events(phone, 1)
    assert (second.prekeys_low.device, second.prekeys_low.remaining) == (target + "-phone", 2)
    for d in fetchers + [phone]:
        d.close()


# ---------------------------------------------------------------- rate limits

def test_send_burst_beyond_capacity_is_refused_and_nothing_accepted_is_lost(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone", node=1)
    record_puback_codes(a)
    conversation = "~".join(sorted([alice, bob]))
    sent = {}  # mid -> client message id
    for i in range(200):  # capacity 50, 20/s: far beyond what refills meanwhile
        send = a.pb.Send(client_message_id="m%03d" % i, ciphertext=b"\x01" * 16)
        info = a.client.publish("s/" + conversation, send.SerializeToString(), qos=1)
        sent[info.mid] = send.client_message_id
    for mid in sent:
        a.wait_ack(mid)
    codes = {sent[mid]: a.puback_codes[mid] for mid in sent}
    accepted = sorted(c for c, code in codes.items() if code == 0)
    refused = sorted(c for c, code in codes.items() if code == QUOTA_EXCEEDED)
    assert len(accepted) + len(refused) == 200, codes
    assert len(accepted) >= 50 and refused, (len(accepted), len(refused))

    # Each refusal also comes as a Status REFUSED rate_limited with a retry hint.
    statuses = a.statuses(len(refused), kind=a.pb.Status.REFUSED)
    assert sorted(s.client_message_id for s in statuses) == refused
    for s in statuses:
        assert s.error.code == "rate_limited" and s.error.retry_after_seconds >= 1, s

    # Time passes (the bucket refills), then one more goes through.
    time.sleep(min(statuses[-1].error.retry_after_seconds, 2))
    send = a.pb.Send(client_message_id="last", ciphertext=bytes(b ^ 0x5A for b in b"after the wait"))
    info = a.client.publish("s/" + conversation, send.SerializeToString(), qos=1)
    a.wait_ack(info.mid)
    assert a.puback_codes[info.mid] == 0

    # Every accepted message is delivered and nothing else: seqs 1..n+1 with
    # the last one sequenced after all the others. (Sends in flight together
    # may reach a queue out of seq order; devices reorder by seq.)
    got = sorted(b.messages(len(accepted) + 1), key=lambda d: d.seq)
    assert [d.seq for d in got] == list(range(1, len(accepted) + 2))
    assert sorted(d.client_message_id for d in got[:-1]) == accepted
    assert got[-1].client_message_id == "last" and text_of(got[-1]) == "after the wait"
    a.close()
    b.close()


def test_a_send_bucket_held_by_the_node_is_written_back_when_the_device_leaves(tmp_path, names):
    """While a device is connected its node holds its send bucket in memory;
    when it disconnects the bucket is written back, so reconnecting does not
    refill it. (A bucket of 10 refilling at 0.5/s: a reconnect that found
    the state of the first take in Redis would allow 9 more at once.)"""
    config = tmp_path / "region.json"
    config.write_text('{"name": "local", "sendBurst": 10, "sendsPerSecond": 0.5}')
    d = Deployment(tmp_path, nodes=1, extra_args=["--config", str(config)])
    try:
        alice, bob = names("alice"), names("bob")
        conversation = "~".join(sorted([alice, bob]))

        def burst(device, count, tag):
            record_puback_codes(device)
            mids = []
            for i in range(count):
                send = device.pb.Send(client_message_id="%s%03d" % (tag, i), ciphertext=b"\x01" * 16)
                mids.append(device.client.publish("s/" + conversation, send.SerializeToString(), qos=1).mid)
            for mid in mids:
                device.wait_ack(mid)
            return sum(1 for mid in mids if device.puback_codes[mid] == 0)

        started = time.monotonic()
        a = Device(d, alice, alice + "-phone")
        assert burst(a, 15, "first") == 10
        a.close()
        # The node writes the bucket back as the session ends (Redis held 9 tokens after the first take).
        deadline = time.monotonic() + 10
        while True:
            tokens = subprocess.run(["redis-cli", "-p", str(d.redis_port), "HGET", "{d:%s-phone}:rl:send" % alice, "tokens"],
                                    check=True, timeout=10, capture_output=True, text=True).stdout.strip()
            if tokens and float(tokens) < 2:
                break
            assert time.monotonic() < deadline, "the bucket was not written back: %r tokens in Redis" % tokens
            time.sleep(0.05)  # polling Redis for the write-back, under a deadline
        a = Device(d, alice, alice + "-phone", node=0)
        accepted = burst(a, 5, "again")
        refill = int((time.monotonic() - started) * 0.5) + 1
        assert accepted <= refill, (accepted, refill)
        a.close()
    finally:
        d.stop()


def test_requests_are_rate_limited(region, names):
    alice = names("alice")
    a = Device(region, alice, alice + "-phone")
    ids = [publish_request(a, "devices.list", devices_list=a.pb.DevicesList()) for _ in range(40)]
    responses = await_responses(a, ids)
    ok = [r for r in responses.values() if not r.HasField("error")]
    limited = [r for r in responses.values() if r.HasField("error")]
    assert len(ok) >= 20 and limited, (len(ok), len(limited))
    for r in limited:
        assert r.error.code == "rate_limited" and r.error.retry_after_seconds >= 1, r
        assert r.request_id in ids
    time.sleep(1)  # time passing: 5 tokens a second
    assert not a.request("devices.list", devices_list=a.pb.DevicesList()).HasField("error")
    a.close()


def test_key_fetches_have_their_own_stricter_limit(region, names):
    target, fetcher = names("target"), names("fetcher")
    phone = Device(region, target, target + "-phone")
    upload(phone, Keys(phone.pb, one_time=30))
    f = Device(region, fetcher, fetcher + "-d", node=1)
    ids = [publish_request(f, "keys.fetch", keys_fetch=f.pb.KeysFetch(user=target)) for _ in range(16)]
    responses = await_responses(f, ids)
    ok = [r for r in responses.values() if not r.HasField("error")]
    limited = [r for r in responses.values() if r.HasField("error")]
    assert len(ok) >= 10 and limited, (len(ok), len(limited))
    assert all(r.error.code == "rate_limited" and r.error.retry_after_seconds >= 1 for r in limited)
    # Each fetch that went through took its own one-time prekey.
    taken = [r.key_bundles.bundles[0].one_time_prekey.id for r in ok]
    assert len(set(taken)) == len(taken)
    # Other requests use the other bucket.
    assert not f.request("devices.list", devices_list=f.pb.DevicesList()).HasField("error")
    phone.close()
    f.close()


# ---------------------------------------------------------------- the bucket math

def take(capacity, rate, state, now, cost):
    """RelayCore's TokenBucket.take, operation for operation."""
    tokens, updated = state if state else (capacity, now)
    elapsed = max(0, now - updated)
    tokens = min(capacity, tokens + elapsed * rate / 1000)
    updated = max(updated, now)
    if tokens >= cost:
        return 1, 0, (tokens - cost, updated)
    return 0, int(math.ceil((cost - tokens) * 1000 / rate)), (tokens, updated)


def test_rate_limit_script_matches_the_token_bucket_bit_for_bit(region):
    script = open(os.path.join(ROOT, "Sources/RelayStore/Scripts/rate_limit.lua")).read()

    def cli(*args):
        out = subprocess.run(["redis-cli", "-p", str(region.redis_port), "--no-raw"] + [str(a) for a in args],
                             check=True, timeout=10, capture_output=True, text=True)
        return out.stdout

    rng = random.Random(7)
    for case in range(4):
        capacity = rng.choice([1.0, 3.0, 50.0, 7.25])
        rate = rng.choice([0.3, 1.0, 20.0, 2.0 / 3.0])
        cost = rng.choice([1.0, 0.5, min(capacity, 2.5)])
        # The key's expiry as the relay computes it (a full refill), but at least
        # 10 s: at 50 ms it could expire between two redis-cli calls on a busy machine.
        expiry = max(int(math.ceil(capacity * 1000 / rate)), 10_000)
        key = "{d:math-%d}:rl:test" % case
        state, now = None, 1_700_000_000_000
        for _ in range(40):
            now += rng.choice([0, 1, 7, 33, 250, 1000, -5])
            allowed, wait, state = take(capacity, rate, state, now, cost)
            lines = cli("EVAL", script, 1, key, repr(capacity), repr(rate), now, repr(cost), expiry).split("\n")
            assert lines[0].endswith("(integer) %d" % allowed) and lines[1].endswith("(integer) %d" % wait), lines
            stored = cli("HMGET", key, "tokens", "updated").split("\n")
            assert stored[0].endswith('"%.17g"' % state[0]) and stored[1].endswith('"%d"' % state[1]), stored
            assert float(stored[0].split('"')[1]) == state[0]
        assert 0 < int(cli("PTTL", key).split()[-1]) <= expiry

"""End-to-end encryption with the Signal protocol through a real relay and
Redis (issue 13, item 8), driven with relay-cli (each call a new process on
the device's state directory, so every step is also a client restart that
keeps its identity and sessions) and python3-axolotl devices: a long
conversation, a lost session recovered by a retry request, an identity
change refused until trusted, a device added and removed, a member removed
from a group who cannot decrypt later messages, no plaintext anywhere
on the server side, and a large group whose sender key distribution takes
several Sends (docs/e2ee.md)."""

import base64
import glob
import json
import os
import shutil
import subprocess
import uuid

import pytest

from axolotl.axolotladdress import AxolotlAddress
from axolotl.groups.groupcipher import GroupCipher
from axolotl.groups.senderkeyname import SenderKeyName

from axolotl_device import AxolotlDevice, device_number
from chat_support import Deployment, Device, bin_path
from signal_keys import SignalKeys

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("e2ee"), nodes=1)
    yield d
    d.stop()


def state_dir(region, device):
    return os.path.join(region.workdir, "cli-state", device)


def run_cli(region, user, device, *args, timeout=40):
    cmd = [bin_path("relay-cli"), "--user", user, "--device", device, "--token", region.token(user, device),
           "--state", state_dir(region, device), "--server", "127.0.0.1:%d" % region.nodes[0].port, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def cli(region, user, device, *args, timeout=40):
    run = run_cli(region, user, device, *args, timeout=timeout)
    assert run.returncode == 0, (args, run.stdout, run.stderr)
    return [json.loads(line) for line in run.stdout.strip().splitlines() if line.startswith("{")]


def listen(region, user, device, count):
    return cli(region, user, device, "listen", "--count", str(count), "--timeout", "30")


def names():
    tag = uuid.uuid4().hex[:8]
    return lambda name: "%s-%s" % (name, tag)


def test_long_conversation_across_restarts(region):
    n = names()
    alice, bob = n("alice"), n("bob")
    for user in (alice, bob):
        cli(region, user, user + "-phone", "presence", user)
    for round in range(6):
        sent = subprocess.run(
            [bin_path("relay-cli"), "--user", alice, "--device", alice + "-phone", "--token", region.token(alice, alice + "-phone"),
             "--state", state_dir(region, alice + "-phone"), "--server", "127.0.0.1:%d" % region.nodes[0].port,
             "send", "--to", bob, "-"], input="a%d.1\na%d.2\n" % (round, round), capture_output=True, text=True, timeout=40)
        assert sent.returncode == 0, sent.stderr
        assert [l["text"] for l in listen(region, bob, bob + "-phone", 2)] == ["a%d.1" % round, "a%d.2" % round]
        cli(region, bob, bob + "-phone", "send", "--to", alice, "b%d" % round)
        assert [l["text"] for l in listen(region, alice, alice + "-phone", 1)] == ["b%d" % round]
    # The state directory is the owner's only.
    for device in (alice + "-phone", bob + "-phone"):
        assert os.stat(state_dir(region, device)).st_mode & 0o777 == 0o700
        for path in glob.glob(os.path.join(state_dir(region, device), "*")):
            assert os.stat(path).st_mode & 0o777 == 0o600, path


def test_lost_session_is_recovered_by_a_retry_request(region):
    n = names()
    alice, bob = n("alice"), n("bob")
    for user in (alice, bob):
        cli(region, user, user + "-phone", "presence", user)
    cli(region, alice, alice + "-phone", "send", "--to", bob, "one")
    assert listen(region, bob, bob + "-phone", 1)[0]["text"] == "one"

    # bob loses his session with alice (state deleted on one side).
    lost = glob.glob(os.path.join(state_dir(region, bob + "-phone"), "session.*"))
    assert lost
    for path in lost:
        os.remove(path)
    (receipt,) = cli(region, alice, alice + "-phone", "send", "--to", bob, "two")
    (failed,) = listen(region, bob, bob + "-phone", 1)
    assert "cannot decrypt" in failed["error"] and "asked the sender" in failed["error"], failed
    # alice's device answers the retry request: the same message again, to bob's device only.
    (answered,) = listen(region, alice, alice + "-phone", 1)
    assert (answered["resent"], answered["resent_to"]) == (receipt["client_message_id"], bob + "-phone")
    (again,) = listen(region, bob, bob + "-phone", 1)
    assert (again["text"], again["client_message_id"]) == ("two", receipt["client_message_id"])
    # The new session carries on.
    cli(region, alice, alice + "-phone", "send", "--to", bob, "three")
    assert listen(region, bob, bob + "-phone", 1)[0]["text"] == "three"


def test_identity_change_is_refused_until_trusted(region):
    n = names()
    alice, bob = n("alice"), n("bob")
    for user in (alice, bob):
        cli(region, user, user + "-phone", "presence", user)
    cli(region, alice, alice + "-phone", "send", "--to", bob, "before")
    assert listen(region, bob, bob + "-phone", 1)[0]["text"] == "before"
    before = run_cli(region, alice, alice + "-phone", "safety-number", bob).stdout.strip()
    assert len(before) == 60 and before.isdigit()

    # bob reinstalls: a new identity key under the same device.
    shutil.rmtree(state_dir(region, bob + "-phone"))
    cli(region, bob, bob + "-phone", "send", "--to", alice, "it is me, reinstalled")
    (refused,) = listen(region, alice, alice + "-phone", 1)
    assert "identity key of %s changed" % bob in refused["error"] and "text" not in refused, refused

    accepted = cli(region, alice, alice + "-phone", "trust", bob)
    assert accepted == [{"user": bob, "accepted_devices": "1"}]
    after = run_cli(region, alice, alice + "-phone", "safety-number", bob).stdout.strip()
    assert len(after) == 60 and after != before
    # The same number on bob's side (both hold the same two identity keys).
    assert run_cli(region, bob, bob + "-phone", "safety-number", alice).stdout.strip() == after
    cli(region, alice, alice + "-phone", "send", "--to", bob, "welcome back")
    assert listen(region, bob, bob + "-phone", 1)[0]["text"] == "welcome back"


def test_device_added_reads_what_is_sent_after_and_a_removed_device_is_shut_out(region):
    n = names()
    alice, bob = n("alice"), n("bob")
    phone, laptop = bob + "-phone", bob + "-laptop"
    cli(region, alice, alice + "-phone", "presence", alice)
    cli(region, bob, phone, "presence", bob)
    cli(region, alice, alice + "-phone", "send", "--to", bob, "first")
    assert listen(region, bob, phone, 1)[0]["text"] == "first"

    cli(region, bob, phone, "devices", "link", laptop, "--device-token", region.token(bob, laptop))
    cli(region, bob, laptop, "presence", bob)  # the laptop's first use: its keys
    (receipt,) = cli(region, alice, alice + "-phone", "send", "--to", bob, "second")
    assert listen(region, bob, phone, 1)[0]["text"] == "second"
    # alice did not know the laptop: it got no copy and asks for one.
    (asked,) = listen(region, bob, laptop, 1)
    assert "asked the sender" in asked["error"], asked
    assert listen(region, alice, alice + "-phone", 1)[0]["resent_to"] == laptop
    (got,) = listen(region, bob, laptop, 1)
    assert (got["text"], got["client_message_id"]) == ("second", receipt["client_message_id"])
    # From now on alice encrypts for the laptop too.
    cli(region, alice, alice + "-phone", "send", "--to", bob, "third")
    assert listen(region, bob, laptop, 1)[0]["text"] == "third"
    assert listen(region, bob, phone, 1)[0]["text"] == "third"

    cli(region, bob, phone, "devices", "remove", laptop)
    cli(region, alice, alice + "-phone", "send", "--to", bob, "fourth")
    assert listen(region, bob, phone, 1)[0]["text"] == "fourth"
    shut_out = run_cli(region, bob, laptop, "listen", "--count", "1", "--timeout", "10")
    assert shut_out.returncode != 0 and "fourth" not in shut_out.stdout


def test_member_removed_from_a_group_cannot_decrypt_later_messages(region):
    n = names()
    alice, bob, carol = n("alice"), n("bob"), n("carol")
    cli(region, alice, alice + "-phone", "presence", alice)
    b = AxolotlDevice(region, bob, bob + "-py")
    c = AxolotlDevice(region, carol, carol + "-py")
    for device in (b, c):
        device.upload_keys()
    (group,) = cli(region, alice, alice + "-phone", "group", "create", bob, carol)
    conversation = group["conversation"]
    cli(region, alice, alice + "-phone", "send", "--group", conversation, "before")
    for device in (b, c):
        assert device.receive(1)[0][1].body == b"before"

    cli(region, alice, alice + "-phone", "group", "remove", conversation, carol)
    cli(region, alice, alice + "-phone", "send", "--group", conversation, "after carol left")
    ((delivery, content),) = b.receive(1)
    assert content.body == b"after carol left"
    # alice started a new sender key: carol, who holds the old one, cannot
    # decrypt the new message even with its bytes in hand.
    name = SenderKeyName(conversation, AxolotlAddress(alice, device_number(alice + "-phone")))
    with pytest.raises(Exception):
        GroupCipher(c.sender_keys, name).decrypt(b.last_group_message)
    # ... and the relay did not deliver it to her.
    with pytest.raises(AssertionError):
        c.receive(1, timeout=3)
    b.close()
    c.close()


def test_no_plaintext_on_the_server(region):
    """Blindness (item 7, one region): a known marker sent 1:1 and to a group
    is nowhere in Redis's AOF and RDB, the relay's logs or /metrics."""
    n = names()
    alice, bob, carol = n("alice"), n("bob"), n("carol")
    marker = "PLAINTEXT-MARKER-" + uuid.uuid4().hex
    for user in (alice, bob, carol):
        cli(region, user, user + "-phone", "presence", user)
    cli(region, alice, alice + "-phone", "send", "--to", bob, marker + " direct")
    (group,) = cli(region, alice, alice + "-phone", "group", "create", bob, carol)
    cli(region, alice, alice + "-phone", "send", "--group", group["conversation"], marker + " group")
    assert listen(region, bob, bob + "-phone", 3)[-1]["text"] == marker + " group"
    subprocess.run(["redis-cli", "-p", str(region.redis_port), "SAVE"], check=True, capture_output=True, timeout=30)
    needles = [marker.encode()] + [base64.b64encode((marker + suffix).encode()) for suffix in (" direct", " group")]
    searched = 0
    for path in glob.glob(os.path.join(region.workdir, "**", "*"), recursive=True):
        if os.path.isfile(path) and "cli-state" not in path and "/pb" not in path:
            with open(path, "rb") as f:
                data = f.read()
            assert not any(needle in data for needle in needles), path
            searched += 1
    assert any(p.endswith(".aof") or "appendonly" in p for p in glob.glob(os.path.join(region.workdir, "**", "*"), recursive=True))
    assert searched > 3
    # The search finds the marker where it is: alice's own state keeps what she
    # sent (to answer retry requests; JSON, so base64), in her 0600 files.
    found = False
    for path in glob.glob(os.path.join(state_dir(region, alice + "-phone"), "*")):
        with open(path, "rb") as f:
            data = f.read()
        found = found or any(needle in data for needle in needles)
    assert found


def test_a_large_groups_sender_key_goes_out_over_several_sends(tmp_path):
    """A group whose sender key distribution (one pairwise message per member
    device) is larger than one Send: it goes ahead in Sends of its own, under
    the relay's size limit, then the message under the sender key; members
    read it, and later messages carry no distribution (docs/e2ee.md, "Large
    groups"). Most members are key-only devices (keys uploaded, never read);
    key fetches are not rate limited here, as a 240-member first send needs 240."""
    settings = tmp_path / "settings.json"
    settings.write_text('{"name": "local", "keyFetchBurst": 1000, "keyFetchesPerSecond": 1000}')
    region = Deployment(tmp_path, nodes=1, extra_args=["--config", str(settings)])
    try:
        n = names()
        alice, bob = n("alice"), n("bob")
        for user in (alice, bob):
            cli(region, user, user + "-phone", "presence", user)
        others = [n("m%03d" % i) for i in range(240)]
        for user in others:
            d = Device(region, user, user + "-phone")
            resp = d.request("keys.upload", keys_upload=SignalKeys(d.pb, one_time=1, device_id=device_number(user + "-phone")).upload())
            assert not resp.HasField("error"), resp.error
            d.close()
        (group,) = cli(region, alice, alice + "-phone", "group", "create", bob, *others)
        conversation = group["conversation"]
        (created,) = listen(region, bob, bob + "-phone", 1)
        assert created["membership"] == "created"

        (first,) = cli(region, alice, alice + "-phone", "send", "--group", conversation, "to the many", timeout=120)
        (second,) = cli(region, alice, alice + "-phone", "send", "--group", conversation, "again")
        got = listen(region, bob, bob + "-phone", 2)
        assert [(l["from"], l["text"], l["seq"]) for l in got] == [(alice, "to the many", first["seq"]), (alice, "again", second["seq"])]
        # Membership events take no seq: two Sends of distribution (seq 1, 2) went
        # before the first message, none before the second.
        assert first["seq"] >= 3, first
        assert second["seq"] == first["seq"] + 1
    finally:
        region.stop()

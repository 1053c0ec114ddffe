"""Interoperability of the SDK's end-to-end encryption (relay-cli:
libsignal-protocol-c with the OpenSSL crypto provider) with an independent
Signal protocol implementation (Debian's python3-axolotl), through a real
relay and Redis: 1:1 both ways with first contact by prekey message on
either side, ratchet steps, and a group with sender keys both ways
(docs/e2ee.md)."""

import json
import os
import subprocess
import uuid

import pytest

from axolotl_device import AxolotlDevice, PREKEY, WHISPER, device_number
from chat_support import Deployment, bin_path

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("e2ee-interop"), nodes=1)
    yield d
    d.stop()


def cli(region, user, device, *args, timeout=40):
    cmd = [bin_path("relay-cli"), "--user", user, "--device", device, "--token", region.token(user, device),
           "--state", os.path.join(region.workdir, "cli-state", device),
           "--server", "127.0.0.1:%d" % region.nodes[0].port, *args]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, (args, run.stdout, run.stderr)
    return [json.loads(line) for line in run.stdout.strip().splitlines() if line.startswith("{")]


def names():
    tag = uuid.uuid4().hex[:8]
    return lambda name: "%s-%s" % (name, tag)


def test_swift_writes_first_python_answers(region):
    n = names()
    alice, bob = n("alice"), n("bob")
    cli(region, alice, alice + "-phone", "presence", alice)  # alice's keys are up
    py = AxolotlDevice(region, bob, bob + "-py")
    py.upload_keys()

    # First contact from Swift: a prekey message python-axolotl decrypts.
    cli(region, alice, alice + "-phone", "send", "--to", bob, "hello from libsignal-protocol-c")
    ((delivery, content),) = py.receive(1)
    assert delivery.ciphertext[0] == PREKEY
    assert content.body == b"hello from libsignal-protocol-c"
    assert (delivery.from_user, delivery.from_device) == (alice, alice + "-phone")

    # Answers from Python: whisper messages on the session the prekey message set up.
    for i in range(3):
        py.send_direct(alice, "answer %d from python-axolotl" % i)
    lines = cli(region, alice, alice + "-phone", "listen", "--count", "3", "--timeout", "30")
    assert [l["text"] for l in lines] == ["answer %d from python-axolotl" % i for i in range(3)]

    # More rounds: ratchet steps both ways.
    for round in range(3):
        cli(region, alice, alice + "-phone", "send", "--to", bob, "swift round %d" % round)
        ((delivery, content),) = py.receive(1)
        assert delivery.ciphertext[0] == WHISPER
        assert content.body == ("swift round %d" % round).encode()
        py.send_direct(alice, "python round %d" % round)
        (line,) = cli(region, alice, alice + "-phone", "listen", "--count", "1", "--timeout", "30")
        assert line["text"] == "python round %d" % round
    py.close()


def test_python_writes_first_swift_answers(region):
    n = names()
    alice, carol = n("alice"), n("carol")
    cli(region, alice, alice + "-phone", "presence", alice)
    py = AxolotlDevice(region, carol, carol + "-py")
    py.upload_keys()

    # First contact from Python: X3DH from the bundle libsignal-protocol-c's device uploaded.
    py.send_direct(alice, "hello from python-axolotl")
    (line,) = cli(region, alice, alice + "-phone", "listen", "--count", "1", "--timeout", "30")
    assert (line["from"], line["from_device"], line["text"]) == (carol, carol + "-py", "hello from python-axolotl")

    cli(region, alice, alice + "-phone", "send", "--to", carol, "answer from libsignal-protocol-c")
    ((delivery, content),) = py.receive(1)
    assert content.body == b"answer from libsignal-protocol-c"
    # alice had a session from carol's prekey message: her answer is a whisper message.
    assert delivery.ciphertext[0] == WHISPER
    # The safety numbers agree across the two implementations' identity keys (both
    # are Signal's 33-byte keys); relay-cli prints 60 digits.
    (number,) = subprocess.run(
        [bin_path("relay-cli"), "--user", alice, "--device", alice + "-phone", "--token", region.token(alice, alice + "-phone"),
         "--state", os.path.join(region.workdir, "cli-state", alice + "-phone"),
         "--server", "127.0.0.1:%d" % region.nodes[0].port, "safety-number", carol],
        capture_output=True, text=True, timeout=40).stdout.split()
    assert len(number) == 60 and number.isdigit()
    py.close()


def test_group_with_sender_keys_both_ways(region):
    n = names()
    alice, bob, dave = n("alice"), n("bob"), n("dave")
    for user in (alice, dave):
        cli(region, user, user + "-phone", "presence", user)
    py = AxolotlDevice(region, bob, bob + "-py")
    py.upload_keys()
    (group,) = cli(region, alice, alice + "-phone", "group", "create", bob, dave)
    conversation = group["conversation"]
    members = group["members"]

    # alice (Swift) to the group: python-axolotl gets her sender key over the
    # pairwise session, then decrypts the sender key message.
    cli(region, alice, alice + "-phone", "send", "--group", conversation, "group hello from swift")
    ((delivery, content),) = py.receive(1)
    assert content.body == b"group hello from swift"
    cli(region, alice, alice + "-phone", "send", "--group", conversation, "second, sender key only")
    ((delivery, content),) = py.receive(1)
    assert delivery.ciphertext[0] == 4, "a device that has the sender key gets the shared sender key message"
    assert content.body == b"second, sender key only"

    # bob (Python) to the group: his sender key goes pairwise to alice's and dave's devices.
    py.send_group(conversation, members, "group hello from python")
    py.send_group(conversation, members, "and again from python")
    lines = cli(region, alice, alice + "-phone", "listen", "--count", "2", "--timeout", "30")
    assert [(l["from"], l.get("text")) for l in lines] == [(bob, "group hello from python"), (bob, "and again from python")]
    # dave (Swift) reads his whole queue: the group's creation, alice's two, bob's two.
    lines = cli(region, dave, dave + "-phone", "listen", "--count", "5", "--timeout", "30")
    assert lines[0]["membership"] == "created"
    assert [(l["from"], l.get("text")) for l in lines[1:]] == [
        (alice, "group hello from swift"), (alice, "second, sender key only"),
        (bob, "group hello from python"), (bob, "and again from python")]
    py.close()

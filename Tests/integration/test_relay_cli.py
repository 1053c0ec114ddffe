"""relay-cli, the people-and-scripts client, against a real relay region:
messages end-to-end encrypted with the Signal protocol, each device's keys
in its own state directory, no shared secret."""

import json
import os
import subprocess
import time
import uuid

import pytest

from chat_support import Deployment, bin_path

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("cli"), nodes=1)
    yield d
    d.stop()


def state_dir(region, device):
    return os.path.join(region.workdir, "cli-state", device)


def cli(region, user, device, *args, stdin=None, timeout=30):
    cmd = [bin_path("relay-cli"), "--user", user, "--device", device,
           "--token", region.token(user, device), "--state", state_dir(region, device),
           "--server", "127.0.0.1:%d" % region.nodes[0].port, *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)


def start_listen(region, user, device, count, register=True):
    # Connect once first: a device is registered at its first connection,
    # and only registered devices get what is sent (earlier messages are for
    # history.sync); its first use also uploads its keys.
    if register:
        first = cli(region, user, device, "presence", user)
        assert first.returncode == 0, first.stderr
    cmd = [bin_path("relay-cli"), "--user", user, "--device", device,
           "--token", region.token(user, device), "--state", state_dir(region, device),
           "--server", "127.0.0.1:%d" % region.nodes[0].port,
           "listen", "--count", str(count), "--timeout", "30"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_send_and_listen_one_to_one_and_from_stdin(region):
    tag = uuid.uuid4().hex[:8]
    alice, bob = "alice-" + tag, "bob-" + tag
    # bob's device exists (registered) before alice writes; listen waits for 3.
    listener = start_listen(region, bob, bob + "-phone", 3)
    sent = cli(region, alice, alice + "-phone", "send", "--to", bob, "hello bob")
    assert sent.returncode == 0, sent.stderr
    receipt = json.loads(sent.stdout.strip().splitlines()[-1])
    assert receipt["reason_code"] == 0 and receipt["seq"] == 1
    sent = cli(region, alice, alice + "-phone", "send", "--to", bob, "-", stdin="line one\nline two\n")
    assert sent.returncode == 0, sent.stderr
    out, err = listener.communicate(timeout=60)
    assert listener.returncode == 0, err
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert [(l["seq"], l["from"], l["text"]) for l in lines] == \
        [(1, alice, "hello bob"), (2, alice, "line one"), (3, alice, "line two")]
    assert all(l["conversation"] == "~".join(sorted([alice, bob])) for l in lines)


def test_group_create_send_and_history(region):
    tag = uuid.uuid4().hex[:8]
    alice, bob, carol = "alice-" + tag, "bob-" + tag, "carol-" + tag
    # Every device is registered (and its keys up) before the group exists,
    # so each gets the group's creation (its member list) in its queue.
    for user in (bob, carol):
        assert cli(region, user, user + "-phone", "presence", user).returncode == 0
    created = cli(region, alice, alice + "-phone", "group", "create", bob, carol)
    assert created.returncode == 0, created.stderr
    group = json.loads(created.stdout)["conversation"]
    # bob reads his queue: the membership event tells his device who is in the group.
    seen = cli(region, bob, bob + "-phone", "listen", "--count", "1", "--timeout", "20")
    assert seen.returncode == 0, seen.stderr
    listener = start_listen(region, carol, carol + "-phone", 2, register=False)
    sent = cli(region, bob, bob + "-phone", "send", "--group", group, "to the group")
    assert sent.returncode == 0, sent.stderr
    out, err = listener.communicate(timeout=60)
    assert listener.returncode == 0, (out, err)
    membership, line = [json.loads(l) for l in out.strip().splitlines()]
    assert (membership["membership"], membership["actor"]) == ("created", alice)
    assert sorted(membership["users"]) == sorted([alice, bob, carol])
    assert (line["conversation"], line["from"], line.get("text")) == (group, bob, "to the group"), line
    history = cli(region, alice, alice + "-phone", "history", group)
    assert history.returncode == 0, history.stderr
    # History shows the message, not its text: a Signal message key decrypts once.
    (entry,) = [json.loads(l) for l in history.stdout.strip().splitlines()]
    assert (entry["from"], entry.get("text")) == (bob, None)
    assert "to the group" not in history.stdout


def test_bad_token_is_a_clear_error(region):
    cmd = [bin_path("relay-cli"), "--user", "x", "--device", "x-phone", "--token", "nonsense",
           "--server", "127.0.0.1:%d" % region.nodes[0].port, "send", "--to", "y", "hi"]
    cmd[5:5] = ["--state", state_dir(region, "x-phone")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert run.stderr.strip(), "says what went wrong"


def test_devices_link_list_and_remove(region):
    tag = uuid.uuid4().hex[:8]
    alice, mallory = "alice-" + tag, "mallory-" + tag
    phone, laptop = alice + "-phone", alice + "-laptop"

    def devices(run):
        assert run.returncode == 0, run.stderr
        return sorted(json.loads(run.stdout.strip().splitlines()[-1]).get("devices", []))

    assert devices(cli(region, alice, phone, "devices", "list")) == [phone]
    # The phone links the laptop with the laptop's own token.
    linked = cli(region, alice, phone, "devices", "link", laptop, "--device-token", region.token(alice, laptop))
    assert devices(linked) == sorted([phone, laptop])
    # mallory cannot take it, with or without a token, nor remove it.
    taken = cli(region, mallory, mallory + "-phone", "devices", "link", laptop, "--device-token", region.token(mallory, laptop))
    assert taken.returncode == 2 and "forbidden" in taken.stderr, taken
    removed = cli(region, mallory, mallory + "-phone", "devices", "remove", laptop)
    assert removed.returncode == 2 and "not_found" in removed.stderr, removed
    assert devices(cli(region, alice, phone, "devices", "list")) == sorted([phone, laptop])
    assert devices(cli(region, alice, phone, "devices", "remove", laptop)) == [phone]


def test_subcommand_help_and_read_receipts(region):
    # `relay-cli send --help` is send's help, without the root's required options.
    helped = subprocess.run([bin_path("relay-cli"), "send", "--help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and "USAGE: relay-cli send" in helped.stdout, helped.stdout + helped.stderr
    helped = subprocess.run([bin_path("relay-cli"), "group", "create", "--help"], capture_output=True, text=True, timeout=30)
    assert "USAGE: relay-cli group create" in helped.stdout, helped.stdout
    # `read` sends a receipt; the sender hears READ (listen prints statuses too).
    tag = uuid.uuid4().hex[:8]
    alice, bob = "alice-" + tag, "bob-" + tag
    conversation = "~".join(sorted([alice, bob]))
    first = cli(region, bob, bob + "-phone", "presence", bob)
    assert first.returncode == 0, first.stderr
    sent = cli(region, alice, alice + "-phone", "send", "--to", bob, "read me")
    assert sent.returncode == 0, sent.stderr
    read = cli(region, bob, bob + "-phone", "read", conversation, "1")
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout.strip().splitlines()[-1]) == {"conversation": conversation, "readUpToSeq": "1"}
    # Past the latest message: refused, and said so.
    far = cli(region, bob, bob + "-phone", "read", conversation, "99")
    assert far.returncode != 0 and "refused (PUBACK 0x99)" in far.stderr, far.stderr

"""What a signed-in device can send that once crashed a region (issue 10),
and the refusals that say what was wrong: real redis-server, real relay,
paho devices. Each test ends by checking that the relay still serves."""

import os
import subprocess
import time

import pytest

from chat_support import HOST, Deployment, Device, Refused, direct, text_of, unique_names

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

TWO_TO_63 = 1 << 63


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    config = workdir / "region.json"
    config.write_text('{"name": "local", "maxSendBytes": 2048, "sendBurst": 5, "sendsPerSecond": 0.5}')
    d = Deployment(workdir, nodes=1, extra_args=["--config", str(config)])
    yield d
    d.stop()


@pytest.fixture
def names():
    return unique_names()


def redis_cli(region, *args):
    out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(region.redis_port)] + [str(a) for a in args],
                         check=True, timeout=30, capture_output=True, text=True)
    return out.stdout.strip()


def assert_still_serving(region, names):
    """The relay process runs and carries a message between two new devices."""
    assert region.nodes[0].proc.poll() is None, "the relay died:\n%s" % region.logs()
    x, y = names("x"), names("y")
    a, b = Device(region, x, x + "-d"), Device(region, y, y + "-d")
    a.send(direct(x, y), "still here")
    assert text_of(b.messages(1)[0]) == "still here"
    a.close()
    b.close()


def publish(device, topic, payload, qos=1):
    """Publishes and waits for the PUBACK; the MQTT 5 reason code and Reason String."""
    info = device.client.publish(topic, payload, qos=qos)
    if qos == 0:
        return None, None
    device.wait_ack(info.mid)
    return device.puback_codes.get(info.mid, 0), device.puback_reasons.get(info.mid)


def test_a_conversation_with_oneself_is_a_note_to_self(region, names):
    alice = names("alice")
    phone, laptop = Device(region, alice, alice + "-phone"), Device(region, alice, alice + "-laptop")
    note = direct(alice, alice)
    phone.send(note, "remember the milk")
    (delivery,) = laptop.messages(1)
    assert (delivery.conversation, delivery.seq, text_of(delivery)) == (note, 1, "remember the milk")
    (sequenced,) = phone.statuses(1, kind=phone.pb.Status.SEQUENCED)
    assert sequenced.seq == 1
    # Typing there, and another user's typing on someone else's note: dropped, nothing breaks.
    mallory = names("mallory")
    m = Device(region, mallory, mallory + "-phone")
    typing = phone.pb.Typing(typing=True).SerializeToString()
    publish(phone, "t/" + note, typing, qos=0)
    publish(m, "t/" + note, typing, qos=0)
    publish(m, "t/" + direct(mallory, mallory), typing, qos=0)
    # A send by someone else into alice's note is refused.
    send = m.pb.Send(client_message_id="m-1", ciphertext=b"\x01")
    code, reason = publish(m, "s/" + note, send.SerializeToString())
    assert code == 0x87 and reason.startswith("not_member"), (code, reason)
    # The restart that used to crash on the left-over pending fan-out: the sweeper finishes it.
    redis_cli(region, "ZADD", "{c:%s}:pending" % note, "0", "1")
    region.restart_node(0)
    deadline = time.monotonic() + 30
    while redis_cli(region, "ZCARD", "{c:%s}:pending" % note) != "0":
        assert time.monotonic() < deadline, "the sweeper did not finish the pending fan-out:\n%s" % region.logs()
        time.sleep(0.2)  # the sweeper runs every 5 s in another process: poll Redis, bounded
    assert_still_serving(region, names)


def test_seqs_past_what_the_relay_holds_are_refused_at_the_edge(region, names):
    alice, bob, mallory = names("alice"), names("bob"), names("mallory")
    a, b = Device(region, alice, alice + "-phone"), Device(region, bob, bob + "-phone")
    m = Device(region, mallory, mallory + "-phone")
    conversation = direct(alice, bob)
    a.send(conversation, "hello")
    b.messages(1)
    pb = a.pb
    # A receipt past 2^53 (the old crash, before the membership check): refused, from anyone.
    code, reason = publish(m, "r/" + conversation, pb.Receipt(epoch=1, read_up_to_seq=TWO_TO_63).SerializeToString())
    assert code == 0x87 and reason.startswith("not_member"), (code, reason)
    code, reason = publish(b, "r/" + conversation, pb.Receipt(epoch=1, read_up_to_seq=TWO_TO_63).SerializeToString())
    assert code == 0x99 and reason.startswith("bad_request") and "read_up_to_seq" in reason, (code, reason)
    # A reply to seq 2^63: refused before anything is stored, with the client message id.
    send = pb.Send(client_message_id="far-reply", ciphertext=b"\x01", reply_to_seq=TWO_TO_63)
    code, reason = publish(a, "s/" + conversation, send.SerializeToString())
    assert code == 0x99 and "reply_to_seq" in reason, (code, reason)
    (refused,) = a.statuses(1, kind=pb.Status.REFUSED)
    assert (refused.client_message_id, refused.error.code) == ("far-reply", "bad_request")
    # A normal receipt still works.
    code, _ = publish(b, "r/" + conversation, pb.Receipt(epoch=1, read_up_to_seq=1).SerializeToString())
    assert code == 0
    assert_still_serving(region, names)


def test_every_refused_send_names_itself_for_a_311_client(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone", version=4)
    pb = a.pb

    def refused(topic, send):
        a.client.publish(topic, send.SerializeToString(), qos=1)
        (status,) = a.statuses(1, kind=pb.Status.REFUSED)
        return status.client_message_id, status.error.code

    too_large = pb.Send(client_message_id="big", ciphertext=b"\x01" * 4096)
    assert refused("s/" + direct(alice, bob), too_large) == ("big", "too_large")
    spaced = pb.Send(client_message_id="has space", ciphertext=b"\x01")
    assert refused("s/" + direct(alice, bob), spaced) == ("has space", "bad_request")
    other = pb.Send(client_message_id="not-mine", ciphertext=b"\x01")
    assert refused("s/" + direct(names("carol"), names("dave")), other) == ("not-mine", "not_member")
    unknown_group = pb.Send(client_message_id="no-group", ciphertext=b"\x01")
    assert refused("s/gnosuchgroup" + names("g").replace("-", ""), unknown_group) == ("no-group", "not_member")
    a.close()
    assert_still_serving(region, names)


def test_refusals_carry_their_reason_code_and_string(region, names):
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    pb = a.pb
    conversation = direct(alice, bob)
    # Not in the conversation: 0x87, receipt included (it used to get 0x00).
    code, reason = publish(a, "r/" + direct(names("carol"), names("dave")), pb.Receipt(epoch=1, read_up_to_seq=1).SerializeToString())
    assert code == 0x87 and reason.startswith("not_member"), (code, reason)
    code, reason = publish(a, "s/gnosuchgroup", pb.Send(client_message_id="g-1", ciphertext=b"\x01").SerializeToString())
    assert code == 0x87 and reason.startswith("not_member"), (code, reason)
    # Over the send rate (burst 5): 0x97 with a Reason String saying so.
    codes = []
    for i in range(8):
        code, reason = publish(a, "s/" + conversation, pb.Send(client_message_id="r-%d" % i, ciphertext=b"\x01").SerializeToString())
        codes.append((code, reason))
    limited = [(c, r) for c, r in codes if c]
    assert limited and all(c == 0x97 and r.startswith("rate_limited") for c, r in limited), codes
    assert_still_serving(region, names)


def test_a_token_for_a_region_the_deployment_does_not_have_is_refused(region, names):
    import paho.mqtt.client as mqtt
    alice = names("alice")
    token = subprocess.run([os.path.join(os.path.dirname(os.environ["RELAY_BIN"]), "relayctl"), "token", "issue",
                            "--user", alice, "--device", alice + "-phone", "--home", "mars", "--key-dir", region.keys],
                           check=True, timeout=60, capture_output=True, text=True).stdout.strip()
    client = mqtt.Client(client_id=alice + "-phone", protocol=mqtt.MQTTv5)
    client.username_pw_set(alice, token)
    results = []
    import threading
    got = threading.Event()

    def on_connect(c, userdata, flags, rc, properties=None):
        results.append((rc.value if hasattr(rc, "value") else rc, getattr(properties, "ReasonString", None)))
        got.set()

    client.on_connect = on_connect
    client.connect(HOST, region.nodes[0].port)
    client.loop_start()
    try:
        assert got.wait(20), "no CONNACK"
    finally:
        client.loop_stop()
    assert results[0] == (0x86, "token home region mars is not a region of this deployment"), results

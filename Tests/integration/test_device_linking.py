"""Linking and removing devices (issue 10, item 4): a device is linked only
by a device of the same user presenting the new device's own token, a device
id belongs to one user for good, and a user removes only their own devices.
A real redis-server and relay serve, paho clients."""

import os
import queue
import uuid

import pytest

from chat_support import Deployment, Device, direct, text_of

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")

NOT_AUTHORIZED = 0x87


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("linking"))
    yield d
    d.stop()


@pytest.fixture
def names():
    tag = uuid.uuid4().hex[:8]
    return lambda name: "%s-%s" % (name, tag)


def connack_code(region, user, device):
    """The CONNACK reason code a device with a valid token for user/device gets."""
    d = Device(region, user, device, connect=False)
    d.client.connect("127.0.0.1", region.nodes[0].port)
    d.client.loop_start()
    try:
        code = d.connack.get(timeout=20)
        return int(getattr(code, "value", code))
    finally:
        d.client.disconnect()
        d.client.loop_stop()


def error_code(resp):
    assert resp.HasField("error"), "expected a refusal, got %s" % resp
    return resp.error.code


def devices_of(device):
    resp = device.request("devices.list", devices_list=device.pb.DevicesList())
    assert not resp.HasField("error"), resp.error
    return sorted(resp.devices.devices)


def test_mallory_can_neither_link_nor_remove_alices_device(region, names):
    alice, mallory, bob = names("alice"), names("mallory"), names("bob")
    phone = Device(region, alice, alice + "-phone")
    m = Device(region, mallory, mallory + "-phone")
    b = Device(region, bob, bob + "-phone")
    pb = m.pb
    target = alice + "-phone"
    # Without a token, with mallory's own token, and even with an (operator-issued)
    # token naming mallory and alice's device: the device is alice's, never mallory's.
    refusals = [
        m.request("devices.link", devices_link=pb.DevicesLink(device=target)),
        m.request("devices.link", devices_link=pb.DevicesLink(device=target, token=region.token(mallory, mallory + "-phone"))),
        m.request("devices.link", devices_link=pb.DevicesLink(device=target, token=region.token(alice, target))),
        m.request("devices.link", devices_link=pb.DevicesLink(device=target, token=region.token(mallory, target))),
    ]
    assert [error_code(r) for r in refusals] == ["bad_request", "bad_token", "bad_token", "forbidden"]
    assert devices_of(m) == [mallory + "-phone"]
    # Nor can such a token register alice's device to mallory at CONNECT.
    assert connack_code(region, mallory, target) == NOT_AUTHORIZED
    # Removing a device that is not mallory's is not_found and changes nothing.
    resp = m.request("devices.remove", devices_remove=pb.DevicesRemove(device=target))
    assert error_code(resp) == "not_found"
    assert devices_of(phone) == [target]
    assert devices_of(m) == [mallory + "-phone"]
    # alice's phone was not disconnected and still receives.
    b.send(direct(alice, bob), "still yours")
    got = phone.messages(1, timeout=20)
    assert text_of(got[0]) == "still yours"
    with pytest.raises(queue.Empty):
        phone.disconnects.get_nowait()
    # keys.fetch for mallory never hands out alice's device.
    resp = m.request("keys.fetch", keys_fetch=pb.KeysFetch(user=mallory))
    assert error_code(resp) == "not_found"
    for d in (phone, m, b):
        d.close()


def test_an_existing_device_links_a_new_one_with_its_token(region, names):
    alice = names("alice")
    phone = Device(region, alice, alice + "-phone")
    pb = phone.pb
    laptop = alice + "-laptop"
    # A token for another device than the one named is refused.
    resp = phone.request("devices.link", devices_link=pb.DevicesLink(device=laptop, token=region.token(alice, alice + "-tablet")))
    assert error_code(resp) == "bad_token"
    resp = phone.request("devices.link", devices_link=pb.DevicesLink(device=laptop, token="not.a.token"))
    assert error_code(resp) == "bad_token"
    assert devices_of(phone) == [alice + "-phone"]
    # The laptop's own token links it (before it ever connected)...
    resp = phone.request("devices.link", devices_link=pb.DevicesLink(device=laptop, token=region.token(alice, laptop)))
    assert not resp.HasField("error"), resp.error
    assert sorted(resp.devices.devices) == sorted([alice + "-phone", laptop])
    # ...linking again changes nothing...
    resp = phone.request("devices.link", devices_link=pb.DevicesLink(device=laptop, token=region.token(alice, laptop)))
    assert sorted(resp.devices.devices) == sorted([alice + "-phone", laptop])
    # ...and once removed it is refused at CONNECT until the phone links it again.
    resp = phone.request("devices.remove", devices_remove=pb.DevicesRemove(device=laptop))
    assert list(resp.devices.devices) == [alice + "-phone"]
    assert connack_code(region, alice, laptop) == NOT_AUTHORIZED
    resp = phone.request("devices.link", devices_link=pb.DevicesLink(device=laptop, token=region.token(alice, laptop)))
    assert not resp.HasField("error"), resp.error
    back = Device(region, alice, laptop)
    assert devices_of(back) == sorted([alice + "-phone", laptop])
    back.close()
    phone.close()


def test_a_new_device_starts_at_the_present_in_1to1_and_groups_alike(region, names):
    alice, bob, carol = names("alice"), names("bob"), names("carol")
    a = Device(region, alice, alice + "-phone")
    c = Device(region, carol, carol + "-phone")
    phone = Device(region, bob, bob + "-phone")
    one_to_one = direct(alice, bob)
    a.send(one_to_one, "1:1 before")
    created = a.request("group.create", group_create=a.pb.GroupCreate(members=[bob, carol]))
    group = created.group.conversation
    a.send(group, "group before")
    assert sorted(text_of(d) for d in phone.messages(2)) == ["1:1 before", "group before"]
    c.messages(1)
    # A device added later starts at the present, 1:1 and group alike: the next message
    # of each conversation does not bring the older ones with it.
    tablet = Device(region, bob, bob + "-tablet")
    a.send(one_to_one, "1:1 after")
    a.send(group, "group after")
    got = [text_of(d) for d in tablet.messages(2)]
    assert sorted(got) == ["1:1 after", "group after"], got
    assert sorted(text_of(d) for d in phone.messages(2)) == ["1:1 after", "group after"]
    a.send(one_to_one, "marker")
    _, payload, _ = tablet.next(20, suffix="/m")
    marker = tablet.pb.Delivery()
    marker.ParseFromString(payload)
    assert text_of(marker) == "marker"
    # The older messages are there for history.sync.
    history = tablet.request("history.sync", history_sync=tablet.pb.HistorySync(conversation=one_to_one, limit=10))
    assert [text_of(m) for m in history.history.messages] == ["1:1 before", "1:1 after", "marker"]

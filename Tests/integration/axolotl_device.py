"""A device built on Debian's python3-axolotl: a Signal protocol
implementation independent of the SDK's libsignal-protocol-c, speaking the
relay's device contract (paho, chat_support.Device) and docs/e2ee.md:
frames (one type byte, then the Signal message), `Content` plaintexts
(proto/e2ee.proto), addresses (user id, SHA-256-derived device number),
sender keys named by the group conversation id."""

import hashlib
import importlib
import os
import subprocess
import sys
import time
import uuid

from axolotl.axolotladdress import AxolotlAddress
from axolotl.ecc.curve import Curve
from axolotl.groups.groupcipher import GroupCipher
from axolotl.groups.groupsessionbuilder import GroupSessionBuilder
from axolotl.groups.senderkeyname import SenderKeyName
from axolotl.identitykey import IdentityKey
from axolotl.protocol.prekeywhispermessage import PreKeyWhisperMessage
from axolotl.protocol.senderkeydistributionmessage import SenderKeyDistributionMessage
from axolotl.protocol.whispermessage import WhisperMessage
from axolotl.sessionbuilder import SessionBuilder
from axolotl.sessioncipher import SessionCipher
from axolotl.state.prekeybundle import PreKeyBundle
from axolotl.state.prekeyrecord import PreKeyRecord
from axolotl.tests.groups.inmemorysenderkeystore import InMemorySenderKeyStore
from axolotl.tests.inmemoryaxolotlstore import InMemoryAxolotlStore
from axolotl.util.keyhelper import KeyHelper

from chat_support import ROOT, Device

NOT_FOR_YOU, NO_COPY, WHISPER, PREKEY, SENDER_KEY = 0, 1, 2, 3, 4
LAST_RESORT_ID = 0xFFFFFF

_e2ee = None


def e2ee_pb(workdir):
    """e2ee_pb2 (proto/e2ee.proto), generated once per run."""
    global _e2ee
    if _e2ee is None:
        out = os.path.join(workdir, "pb-e2ee")
        os.makedirs(out, exist_ok=True)
        subprocess.run(["protoc", "--proto_path", os.path.join(ROOT, "proto"), "--python_out", out, "e2ee.proto"],
                       check=True, timeout=60)
        sys.path.insert(0, out)
        _e2ee = importlib.import_module("e2ee_pb2")
    return _e2ee


def device_number(device):
    """docs/e2ee.md, "Addresses": SHA-256's first four bytes, big-endian, top bit cleared, 0 -> 1."""
    n = int.from_bytes(hashlib.sha256(device.encode()).digest()[:4], "big") & 0x7FFFFFFF
    return n or 1


class AxolotlDevice:
    def __init__(self, deployment, user, device, node=0):
        self.user, self.device = user, device
        self.net = Device(deployment, user, device, node=node)
        self.pb = self.net.pb
        self.e2ee = e2ee_pb(deployment.workdir)
        self.store = InMemoryAxolotlStore()
        self.sender_keys = InMemorySenderKeyStore()
        self.devices = {}  # user -> [device ids]
        self.last_group_message = None  # the sender key message of the last group delivery opened

    def close(self):
        self.net.close()

    # ---------------------------------------------------------------- keys
    def upload_keys(self, count=20):
        identity = self.store.getIdentityKeyPair()
        signed = KeyHelper.generateSignedPreKey(identity, 1)
        self.store.storeSignedPreKey(1, signed)
        upload = self.pb.KeysUpload(identity_key=identity.getPublicKey().serialize(),
                                    registration_id=self.store.getLocalRegistrationId(),
                                    device_id=device_number(self.device))
        upload.signed_prekey.id = 1
        upload.signed_prekey.public_key = signed.getKeyPair().getPublicKey().serialize()
        upload.signed_prekey.signature = signed.getSignature()
        for prekey in KeyHelper.generatePreKeys(1, count):
            self.store.storePreKey(prekey.getId(), prekey)
            upload.one_time_prekeys.add(id=prekey.getId(), public_key=prekey.getKeyPair().getPublicKey().serialize())
        last = PreKeyRecord(LAST_RESORT_ID, Curve.generateKeyPair())
        self.store.storePreKey(LAST_RESORT_ID, last)
        upload.last_resort_prekey.id = LAST_RESORT_ID
        upload.last_resort_prekey.public_key = last.getKeyPair().getPublicKey().serialize()
        resp = self.net.request("keys.upload", keys_upload=upload)
        assert not resp.HasField("error"), resp.error

    def fetch_sessions(self, user):
        """X3DH with every device of `user` (keys.fetch), as a Signal client does."""
        resp = self.net.request("keys.fetch", keys_fetch=self.pb.KeysFetch(user=user))
        assert not resp.HasField("error"), resp.error
        for b in resp.key_bundles.bundles:
            assert b.device_id == device_number(b.device), "the bundle's device id is the derived number"
            prekey = b.one_time_prekey if b.HasField("one_time_prekey") else b.last_resort_prekey
            bundle = PreKeyBundle(b.registration_id, b.device_id, prekey.id, Curve.decodePoint(prekey.public_key, 0),
                                  b.signed_prekey.id, Curve.decodePoint(b.signed_prekey.public_key, 0),
                                  b.signed_prekey.signature, IdentityKey(b.identity_key, 0))
            SessionBuilder(self.store, self.store, self.store, self.store, user, b.device_id).processPreKeyBundle(bundle)
            self.devices.setdefault(user, [])
            if b.device not in self.devices[user]:
                self.devices[user].append(b.device)
        return self.devices.get(user, [])

    # ---------------------------------------------------------------- sending
    def pairwise(self, user, device, content):
        cipher = SessionCipher(self.store, self.store, self.store, self.store, user, device_number(device))
        message = cipher.encrypt(content.SerializeToString())
        return bytes([message.getType()]) + message.serialize()

    def publish(self, conversation, ciphertext, per_device):
        send = self.pb.Send(client_message_id=uuid.uuid4().hex, ciphertext=ciphertext)
        for device, frame in per_device.items():
            send.device_ciphertexts[device] = frame
        info = self.net.client.publish("s/" + conversation, send.SerializeToString(), qos=1)
        self.net.wait_ack(info.mid)
        return send.client_message_id

    def send_direct(self, peer, text):
        if peer not in self.devices:
            self.fetch_sessions(peer)
        content = self.e2ee.Content(body=text.encode())
        per_device = {d: self.pairwise(peer, d, content) for d in self.devices[peer]}
        return self.publish("~".join(sorted([self.user, peer])), bytes([NO_COPY]), per_device)

    def send_group(self, group, members, text):
        name = SenderKeyName(group, AxolotlAddress(self.user, device_number(self.device)))
        distribution = GroupSessionBuilder(self.sender_keys).create(name)
        group_message = GroupCipher(self.sender_keys, name).encrypt(self.e2ee.Content(body=text.encode()).SerializeToString())
        carrier = self.e2ee.Content(sender_key_distribution=distribution.serialize(), group_message=group_message)
        per_device = {}
        for user in members:
            if user == self.user:
                continue
            if user not in self.devices:
                self.fetch_sessions(user)
            for device in self.devices[user]:
                per_device[device] = self.pairwise(user, device, carrier)
        return self.publish(group, bytes([SENDER_KEY]) + group_message, per_device)

    # ---------------------------------------------------------------- receiving
    def open(self, delivery):
        """The Content a delivery carries (sender keys taken in), or None for a frame meant for others."""
        frame = delivery.ciphertext
        kind, body = frame[0], bytes(frame[1:])
        number = device_number(delivery.from_device)
        if kind == NOT_FOR_YOU:
            return None
        if kind == SENDER_KEY:
            name = SenderKeyName(delivery.conversation, AxolotlAddress(delivery.from_user, number))
            self.last_group_message = body
            return self.e2ee.Content.FromString(GroupCipher(self.sender_keys, name).decrypt(body))
        cipher = SessionCipher(self.store, self.store, self.store, self.store, delivery.from_user, number)
        if kind == PREKEY:
            plain = cipher.decryptPkmsg(PreKeyWhisperMessage(serialized=body))
        elif kind == WHISPER:
            plain = cipher.decryptMsg(WhisperMessage(serialized=body))
        else:
            raise AssertionError("unexpected frame type %d" % kind)
        self.devices.setdefault(delivery.from_user, [])
        if delivery.from_device not in self.devices[delivery.from_user]:
            self.devices[delivery.from_user].append(delivery.from_device)
        content = self.e2ee.Content.FromString(plain)
        if content.sender_key_distribution:
            name = SenderKeyName(delivery.conversation, AxolotlAddress(delivery.from_user, number))
            GroupSessionBuilder(self.sender_keys).process(
                name, SenderKeyDistributionMessage(serialized=content.sender_key_distribution))
            if content.group_message:
                self.last_group_message = content.group_message
                return self.e2ee.Content.FromString(GroupCipher(self.sender_keys, name).decrypt(content.group_message))
        return content

    def receive(self, n, timeout=30):
        """The next n Contents for this device (frames for others skipped)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            (delivery,) = self.net.messages(1, timeout=max(deadline - time.monotonic(), 0.1))
            content = self.open(delivery)
            if content is not None:
                out.append((delivery, content))
        return out

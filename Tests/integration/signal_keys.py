"""Key material in the Signal protocol's formats, made with Debian's
python3-axolotl (an implementation independent of the relay's
libsignal-protocol-c): 33-byte Curve25519 public keys (0x05 || key) and
XEdDSA signatures over signed prekeys."""

from axolotl.ecc.curve import Curve

LAST_RESORT_ID = 0xFFFFFF


def public_key():
    """A fresh Curve25519 public key, serialised as Signal does (33 bytes)."""
    return Curve.generateKeyPair().getPublicKey().serialize()


class SignalKeys:
    """A device's key material for keys.upload, as a Signal client makes it."""

    def __init__(self, pb, one_time=0, first_id=1, identity=None, registration_id=1234, device_id=1):
        self.pb = pb
        self.identity = identity or Curve.generateKeyPair()
        self.identity_public = self.identity.getPublicKey().serialize()
        self.registration_id = registration_id
        self.device_id = device_id
        self.signed = self.signed_prekey(1)
        self.last_resort = pb.OneTimePrekey(id=LAST_RESORT_ID, public_key=public_key())
        self.one_time = [self.one_time_prekey(first_id + i) for i in range(one_time)]

    def signed_prekey(self, id):
        public = public_key()
        signature = Curve.calculateSignature(self.identity.getPrivateKey(), public)
        return self.pb.SignedPrekey(id=id, public_key=public, signature=signature)

    def one_time_prekey(self, id):
        return self.pb.OneTimePrekey(id=id, public_key=public_key())

    def upload(self, last_resort=True):
        upload = self.pb.KeysUpload(identity_key=self.identity_public, signed_prekey=self.signed,
                                    registration_id=self.registration_id, device_id=self.device_id)
        upload.one_time_prekeys.extend(self.one_time)
        if last_resort:
            upload.last_resort_prekey.CopyFrom(self.last_resort)
        return upload

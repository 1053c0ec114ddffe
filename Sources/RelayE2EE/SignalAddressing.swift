import Crypto
import Foundation
import Signal

/// How the relay's identifiers map to Signal protocol addresses
/// (docs/e2ee.md, "Addresses"): the name is the user id, the device number
/// is derived from the device id string, so that every client computes the
/// same address for a `Delivery`'s `from_user` / `from_device` without
/// asking anyone.
public enum SignalAddressing {
    /// The Signal device number of `device`: the first four bytes of
    /// SHA-256(UTF-8 of the device id), big-endian, with the top bit
    /// cleared; 0 becomes 1.
    public static func deviceNumber(of device: String) -> Int32 {
        let digest = Array(SHA256.hash(data: Data(device.utf8)))
        let number = digest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
        return number == 0 ? 1 : Int32(number)
    }

    /// The Signal address of `user`'s device `device`.
    public static func address(user: String, device: String) -> SignalAddress {
        SignalAddress(name: user, deviceID: deviceNumber(of: device))
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf

/// A `Send` that passed validation: a client message id of 1–64 printable
/// ASCII bytes, at least one ciphertext, per-device ciphertexts keyed by
/// valid device ids, and an encoded size within ``SendLimits``.
public struct ValidatedSend: Hashable, Sendable {
    /// The sender's id for the message, unique per sending device.
    public var clientMessageID: String
    /// The ciphertext for every device without its own; nil when none.
    public var sharedCiphertext: Data?
    /// Ciphertexts per recipient device.
    public var deviceCiphertexts: [DeviceID: Data]
    /// The seq this message answers; nil for none.
    public var replyTo: Seq?
    /// Disappearing timer in seconds; 0 for the conversation's setting.
    public var ttlSeconds: UInt32

    /// Decodes and validates a `Send` payload. The size is checked before
    /// decoding, so an oversized payload costs no allocation.
    public init<Bytes: SwiftProtobufContiguousBytes>(decoding payload: Bytes, limits: SendLimits = SendLimits())
        throws(SendRefusal)
    {
        guard payload.count <= limits.maximumSendBytes else {
            throw .tooLarge(bytes: payload.count, limit: limits.maximumSendBytes)
        }
        let send: Relay_V1_Send
        do {
            send = try Relay_V1_Send(serializedBytes: payload)
        } catch {
            throw .notASend
        }
        try self.init(fields: send)
    }

    /// Validates an already decoded `Send`; its size is its encoded size.
    public init(validating send: Relay_V1_Send, limits: SendLimits = SendLimits()) throws(SendRefusal) {
        let size = (try? send.serializedBytes() as [UInt8])?.count ?? Int.max
        guard size <= limits.maximumSendBytes else {
            throw .tooLarge(bytes: size, limit: limits.maximumSendBytes)
        }
        try self.init(fields: send)
    }

    private init(fields send: Relay_V1_Send) throws(SendRefusal) {
        try Self.validateClientMessageID(send.clientMessageID)
        var perDevice: [DeviceID: Data] = [:]
        perDevice.reserveCapacity(send.deviceCiphertexts.count)
        for (key, ciphertext) in send.deviceCiphertexts {
            let device: DeviceID
            do {
                device = try DeviceID(validating: key)
            } catch {
                throw .invalidDeviceID(key, error)
            }
            guard !ciphertext.isEmpty else { throw .emptyDeviceCiphertext(device) }
            perDevice[device] = ciphertext
        }
        guard !send.ciphertext.isEmpty || !perDevice.isEmpty else { throw .noCiphertext }
        self.clientMessageID = send.clientMessageID
        self.sharedCiphertext = send.ciphertext.isEmpty ? nil : send.ciphertext
        self.deviceCiphertexts = perDevice
        do {
            self.replyTo = try Seq.optional(send.replyToSeq)
        } catch {
            throw .replyToOutOfRange(send.replyToSeq)
        }
        self.ttlSeconds = send.ttlSeconds
    }

    /// Checks a client message id: 1–64 bytes, each visible ASCII (0x21–0x7E:
    /// no space or control byte, so an id reads unambiguously in logs and keys).
    public static func validateClientMessageID(_ id: String) throws(SendRefusal) {
        let bytes = id.utf8
        guard !bytes.isEmpty else { throw .missingClientMessageID }
        guard bytes.count <= SendLimits.maximumClientMessageIDLength else {
            throw .clientMessageIDTooLong(bytes.count)
        }
        for (offset, byte) in bytes.enumerated() where !(0x21...0x7E).contains(byte) {
            throw .clientMessageIDNotPrintable(offset: offset)
        }
    }

    /// Ciphertext bytes the message stores: the shared one plus every
    /// per-device one.
    public var ciphertextBytes: Int {
        deviceCiphertexts.values.reduce(sharedCiphertext?.count ?? 0) { $0 + $1.count }
    }

}

/// Why a `Send` is refused before it is stored.
public enum SendRefusal: RelayRefusal, Hashable {
    /// The encoded `Send` is over the region's size limit.
    case tooLarge(bytes: Int, limit: Int)
    /// The payload does not decode as a `Send`.
    case notASend
    /// `client_message_id` is empty.
    case missingClientMessageID
    /// `client_message_id` has this many bytes; at most 64 are allowed.
    case clientMessageIDTooLong(Int)
    /// `client_message_id` has a byte outside printable ASCII at `offset`.
    case clientMessageIDNotPrintable(offset: Int)
    /// Neither `ciphertext` nor `device_ciphertexts` is given.
    case noCiphertext
    /// A `device_ciphertexts` key is not a device id.
    case invalidDeviceID(String, IdentifierError)
    /// A `device_ciphertexts` entry is empty.
    case emptyDeviceCiphertext(DeviceID)
    /// `reply_to_seq` is past ``Seq/maximum``: no message has it.
    case replyToOutOfRange(UInt64)

    /// `too_large` or `bad_request`.
    public var code: ErrorCode {
        switch self {
        case .tooLarge: return .tooLarge
        default: return .badRequest
        }
    }

    /// 0x97 Quota exceeded for a too large `Send` (MQTT 5.0 §3.4.2.1 has no
    /// "too large" PUBACK code; 0x95 is for DISCONNECT only), 0x99 Payload
    /// format invalid for everything else.
    public var reasonCode: UInt8 {
        switch self {
        case .tooLarge: return RefusalReasonCode.quotaExceeded
        default: return RefusalReasonCode.payloadFormatInvalid
        }
    }

    /// A one-line explanation.
    public var message: String {
        switch self {
        case .tooLarge(let bytes, let limit): return "send is \(bytes) bytes; at most \(limit) allowed"
        case .notASend: return "payload is not a Send"
        case .missingClientMessageID: return "client_message_id is empty"
        case .clientMessageIDTooLong(let count): return "client_message_id is \(count) bytes; at most 64 allowed"
        case .clientMessageIDNotPrintable(let offset):
            return "client_message_id has a byte outside visible ASCII (0x21-0x7E) at offset \(offset)"
        case .noCiphertext: return "send has neither ciphertext nor device_ciphertexts"
        case .invalidDeviceID(_, let error): return "device_ciphertexts key: \(error)"
        case .emptyDeviceCiphertext(let device): return "device_ciphertexts[\(device)] is empty"
        case .replyToOutOfRange(let seq): return "reply_to_seq \(seq) is out of range (0 for none, else 1 to \(Seq.maximum))"
        }
    }
}

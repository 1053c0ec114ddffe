import CSignal
import Foundation

/// The Swift store behind libsignal-protocol-c's store callbacks.
///
/// `SignalProtocol` owns one and hands the library an unretained pointer to
/// it as every store's `user_data`; it outlives the store context (released
/// after `signal_protocol_store_context_destroy`), so the pointer the
/// callbacks get is always valid. Callbacks run only inside `SignalProtocol`
/// calls, under its lock, so `lastError` needs no lock of its own.
final class StoreBridge {
    let store: any SignalProtocolStore
    /// What the last failing store call threw, for the error `SignalProtocol` reports.
    var lastError: (any Error)?

    init(store: any SignalProtocolStore) {
        self.store = store
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> StoreBridge? {
        pointer.map { Unmanaged<StoreBridge>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs a store call; a thrown error is kept and becomes `SG_ERR_UNKNOWN`.
    func run(_ body: () throws -> Int32) -> Int32 {
        do {
            return try body()
        } catch {
            lastError = error
            return SG_ERR_UNKNOWN
        }
    }
}

extension SignalAddress {
    /// The address a callback received.
    init(_ address: UnsafePointer<signal_protocol_address>) {
        let a = address.pointee
        let name = a.name.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: a.name_len), as: UTF8.self) } ?? ""
        self.init(name: name, deviceID: a.device_id)
    }
}

extension SenderKeyName {
    /// The sender key name a callback received.
    init(_ name: UnsafePointer<signal_protocol_sender_key_name>) {
        let n = name.pointee
        let group = n.group_id.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: n.group_id_len), as: UTF8.self) } ?? ""
        let sender = withUnsafePointer(to: n.sender) { SignalAddress($0) }
        self.init(groupID: group, sender: sender)
    }
}

/// Copies `data` into a new `signal_buffer`, which the library frees.
func makeBuffer(_ data: Data) -> OpaquePointer? {
    data.withUnsafeBytes { raw in
        signal_buffer_create(raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
    }
}

func data(_ pointer: UnsafePointer<UInt8>?, _ count: Int) -> Data {
    guard let pointer, count > 0 else { return Data() }
    return Data(bytes: pointer, count: count)
}

/// The five store tables, each with `user_data` = the bridge.
enum StoreCallbacks {
    static func session(_ userData: UnsafeMutableRawPointer) -> signal_protocol_session_store {
        var table = signal_protocol_session_store()
        table.user_data = userData
        table.load_session_func = { record, _, address, ud in
            guard let bridge = StoreBridge.from(ud), let record, let address else { return SG_ERR_INVAL }
            return bridge.run {
                guard let bytes = try bridge.store.session(for: SignalAddress(address)) else { return 0 }
                guard let buffer = makeBuffer(bytes) else { return SG_ERR_NOMEM }
                record.pointee = buffer
                return 1
            }
        }
        table.get_sub_device_sessions_func = { sessions, name, length, ud in
            guard let bridge = StoreBridge.from(ud), let sessions, let name else { return SG_ERR_INVAL }
            return bridge.run {
                let user = String(decoding: UnsafeRawBufferPointer(start: name, count: length), as: UTF8.self)
                let devices = try bridge.store.sessionDevices(of: user)
                guard let list = signal_int_list_alloc() else { return SG_ERR_NOMEM }
                for device in devices where signal_int_list_push_back(list, device) < 0 {
                    signal_int_list_free(list)
                    return SG_ERR_NOMEM
                }
                sessions.pointee = list
                return Int32(clamping: devices.count)
            }
        }
        table.store_session_func = { address, record, length, _, _, ud in
            guard let bridge = StoreBridge.from(ud), let address else { return SG_ERR_INVAL }
            return bridge.run {
                try bridge.store.storeSession(data(record, length), for: SignalAddress(address))
                return 0
            }
        }
        table.contains_session_func = { address, ud in
            guard let bridge = StoreBridge.from(ud), let address else { return SG_ERR_INVAL }
            return bridge.run { try bridge.store.session(for: SignalAddress(address)) == nil ? 0 : 1 }
        }
        table.delete_session_func = { address, ud in
            guard let bridge = StoreBridge.from(ud), let address else { return SG_ERR_INVAL }
            return bridge.run { try bridge.store.deleteSession(for: SignalAddress(address)) ? 1 : 0 }
        }
        table.delete_all_sessions_func = { name, length, ud in
            guard let bridge = StoreBridge.from(ud), let name else { return SG_ERR_INVAL }
            return bridge.run {
                let user = String(decoding: UnsafeRawBufferPointer(start: name, count: length), as: UTF8.self)
                return Int32(clamping: try bridge.store.deleteAllSessions(of: user))
            }
        }
        return table
    }

    static func preKey(_ userData: UnsafeMutableRawPointer) -> signal_protocol_pre_key_store {
        var table = signal_protocol_pre_key_store()
        table.user_data = userData
        table.load_pre_key = { record, id, ud in
            guard let bridge = StoreBridge.from(ud), let record else { return SG_ERR_INVAL }
            return bridge.run {
                guard let bytes = try bridge.store.preKey(id) else { return SG_ERR_INVALID_KEY_ID }
                guard let buffer = makeBuffer(bytes) else { return SG_ERR_NOMEM }
                record.pointee = buffer
                return 0
            }
        }
        table.store_pre_key = { id, record, length, ud in
            guard let bridge = StoreBridge.from(ud) else { return SG_ERR_INVAL }
            return bridge.run {
                try bridge.store.storePreKey(data(record, length), id: id)
                return 0
            }
        }
        table.contains_pre_key = { id, ud in
            guard let bridge = StoreBridge.from(ud) else { return SG_ERR_INVAL }
            return bridge.run { try bridge.store.preKey(id) == nil ? 0 : 1 }
        }
        table.remove_pre_key = { id, ud in
            guard let bridge = StoreBridge.from(ud) else { return SG_ERR_INVAL }
            return bridge.run {
                try bridge.store.removePreKey(id)
                return 0
            }
        }
        return table
    }

    static func signedPreKey(_ userData: UnsafeMutableRawPointer) -> signal_protocol_signed_pre_key_store {
        var table = signal_protocol_signed_pre_key_store()
        table.user_data = userData
        table.load_signed_pre_key = { record, id, ud in
            guard let bridge = StoreBridge.from(ud), let record else { return SG_ERR_INVAL }
            return bridge.run {
                guard let bytes = try bridge.store.signedPreKey(id) else { return SG_ERR_INVALID_KEY_ID }
                guard let buffer = makeBuffer(bytes) else { return SG_ERR_NOMEM }
                record.pointee = buffer
                return 0
            }
        }
        table.store_signed_pre_key = { id, record, length, ud in
            guard let bridge = StoreBridge.from(ud) else { return SG_ERR_INVAL }
            return bridge.run {
                try bridge.store.storeSignedPreKey(data(record, length), id: id)
                return 0
            }
        }
        table.contains_signed_pre_key = { id, ud in
            guard let bridge = StoreBridge.from(ud) else { return SG_ERR_INVAL }
            return bridge.run { try bridge.store.signedPreKey(id) == nil ? 0 : 1 }
        }
        table.remove_signed_pre_key = { id, ud in
            guard let bridge = StoreBridge.from(ud) else { return SG_ERR_INVAL }
            return bridge.run {
                try bridge.store.removeSignedPreKey(id)
                return 0
            }
        }
        return table
    }

    static func identity(_ userData: UnsafeMutableRawPointer) -> signal_protocol_identity_key_store {
        var table = signal_protocol_identity_key_store()
        table.user_data = userData
        table.get_identity_key_pair = { publicData, privateData, ud in
            guard let bridge = StoreBridge.from(ud), let publicData, let privateData else { return SG_ERR_INVAL }
            return bridge.run {
                guard let identity = try bridge.store.localIdentity() else { return SG_ERR_INVALID_KEY }
                guard let pub = makeBuffer(identity.publicKey.serialized) else { return SG_ERR_NOMEM }
                guard let priv = makeBuffer(identity.privateKey) else {
                    signal_buffer_free(pub)
                    return SG_ERR_NOMEM
                }
                publicData.pointee = pub
                privateData.pointee = priv
                return 0
            }
        }
        table.get_local_registration_id = { ud, registrationID in
            guard let bridge = StoreBridge.from(ud), let registrationID else { return SG_ERR_INVAL }
            return bridge.run {
                guard let identity = try bridge.store.localIdentity() else { return SG_ERR_INVALID_KEY }
                registrationID.pointee = identity.registrationID
                return 0
            }
        }
        table.save_identity = { address, key, length, ud in
            guard let bridge = StoreBridge.from(ud), let address else { return SG_ERR_INVAL }
            return bridge.run {
                let saved = key == nil ? nil : try SignalPublicKey(serialized: data(key, length))
                try bridge.store.saveIdentity(saved, for: SignalAddress(address))
                return 0
            }
        }
        table.is_trusted_identity = { address, key, length, ud in
            guard let bridge = StoreBridge.from(ud), let address else { return SG_ERR_INVAL }
            return bridge.run {
                let offered = try SignalPublicKey(serialized: data(key, length))
                return try bridge.store.isTrusted(offered, for: SignalAddress(address)) ? 1 : 0
            }
        }
        return table
    }

    static func senderKey(_ userData: UnsafeMutableRawPointer) -> signal_protocol_sender_key_store {
        var table = signal_protocol_sender_key_store()
        table.user_data = userData
        table.store_sender_key = { name, record, length, _, _, ud in
            guard let bridge = StoreBridge.from(ud), let name else { return SG_ERR_INVAL }
            return bridge.run {
                try bridge.store.storeSenderKey(data(record, length), for: SenderKeyName(name))
                return 0
            }
        }
        table.load_sender_key = { record, _, name, ud in
            guard let bridge = StoreBridge.from(ud), let record, let name else { return SG_ERR_INVAL }
            return bridge.run {
                guard let bytes = try bridge.store.senderKey(for: SenderKeyName(name)) else { return 0 }
                guard let buffer = makeBuffer(bytes) else { return SG_ERR_NOMEM }
                record.pointee = buffer
                return 1
            }
        }
        return table
    }
}

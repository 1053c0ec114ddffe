import ArgumentParser
import Foundation
import RelayClient
import RelayCore
import RelayE2EE
import Signal
import SwiftProtobuf

/// `relay-cli`: a device on the command line, over `RelayClient`.
public struct RelayClientCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "relay-cli",
        abstract: "Send and receive end-to-end encrypted messages through the relay as one device.",
        discussion: """
            Messages are end-to-end encrypted with the Signal protocol (X3DH, Double Ratchet, \
            Sender Keys for groups; docs/e2ee.md). The device's keys and sessions live in the \
            state directory (--state, default ~/.relay-cli/<user>/<device>, mode 0700); its \
            first use uploads the device's keys. A peer whose identity key changed is refused \
            until accepted with `trust USER` (compare `safety-number USER` first).
            """,
        subcommands: [Send.self, Listen.self, ReadCommand.self, Group.self, DevicesCommand.self, PresenceCommand.self, HistoryCommand.self,
                      SafetyNumber.self, Trust.self, PushCommand.self]
    )

    @Option(help: "User id (MQTT user name).")
    var user: String

    @Option(help: "Device id (MQTT client id).")
    var device: String

    @Option(help: "Token (MQTT password).")
    var token: String?

    @Option(help: "File holding the token.")
    var tokenFile: String?

    @Option(name: .customLong("server"), help: "Relay endpoint host:port, in failover order (repeatable).")
    var servers: [String] = []

    @Option(help: "MQTT version: 5 or 3 (3.1.1).")
    var mqtt: Int = 5

    @Option(help: "CA file for TLS (enables TLS).")
    var tlsCA: String?

    @Option(help: "State directory: this device's keys and sessions (default ~/.relay-cli/<user>/<device>).")
    var state: String?

    @Option(help: "Seconds to wait for acknowledgements and answers.")
    var wait: Int = 10

    public init() {}

    /// Parses the process arguments and runs the chosen subcommand (main.swift calls this).
    public static func runAsRoot() async {
        // `relay-cli send --help` is the help of `send`, even without the root's required options
        // (ArgumentParser would stop at the missing --user and show the root's help).
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.contains("--help") || arguments.contains("-h") {
            var command: any ParsableCommand.Type = Self.self
            for argument in arguments where !argument.hasPrefix("-") {
                if let sub = command.configuration.subcommands.first(where: { $0._commandName == argument }) { command = sub }
            }
            print(Self.helpMessage(for: command))
            return
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    func makeClient() throws -> RelayClient {
        let token: String
        switch (self.token, tokenFile) {
        case (let t?, nil): token = t
        case (nil, let file?):
            token = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        case (nil, nil): token = ProcessInfo.processInfo.environment["RELAY_TOKEN"] ?? ""
        default: throw ValidationError("give --token or --token-file, not both")
        }
        let endpoints = try (servers.isEmpty ? ["127.0.0.1:1883"] : servers).map { try Endpoint(parsing: $0) }
        var configuration = RelayClient.Configuration(user: user, device: device, token: token, endpoints: endpoints)
        switch mqtt {
        case 5: configuration.protocolVersion = .v5
        case 3, 4, 311: configuration.protocolVersion = .v311
        default: throw ValidationError("--mqtt is 5 or 3")
        }
        if let tlsCA { configuration.tls = MosquittoClient.TLS(caFile: tlsCA) }
        configuration.connectTimeout = .seconds(wait)
        configuration.sendTimeout = .seconds(wait)
        configuration.requestTimeout = .seconds(wait)
        return try RelayClient(configuration: configuration)
    }

    /// The state directory: `--state`, else `~/.relay-cli/<user>/<device>`.
    func stateDirectory() throws -> URL {
        if let state { return URL(fileURLWithPath: state) }
        guard UserID(rawValue: user) != nil, DeviceID(rawValue: device) != nil else {
            throw ValidationError("not a user and device id: \(user) \(device)")
        }
        let home = ProcessInfo.processInfo.environment["HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".relay-cli").appendingPathComponent(user).appendingPathComponent(device)
    }

    /// Connects, opens this device's end-to-end state (uploading its keys on
    /// first use), runs `body`, and closes the client whatever happens.
    /// Unless `handlingEvents` is false (`listen` reads the events itself),
    /// events that arrive meanwhile (membership changes, prekeys low) are
    /// handled so that they are not lost to this device's state.
    func withMessenger<T>(handlingEvents: Bool = true, _ body: (SecureMessenger) async throws -> T) async throws -> T {
        let directory = try stateDirectory()
        return try await withConnection { client in
            let messenger = try SecureMessenger(client: client, stateDirectory: directory)
            let events = handlingEvents ? Task {
                for await event in client.events {
                    try? await messenger.handle(event)
                }
            } : nil
            defer { events?.cancel() }
            try await messenger.start()
            do {
                return try await body(messenger)
            } catch let error as SecureMessengerError {
                Output.error("relay-cli: \(error)")
                throw ExitCode(error.isUntrusted ? 3 : 2)
            }
        }
    }

    /// The messenger over this device's state without connecting (for local-only commands).
    func offlineStore() throws -> SignalRecordStore {
        SignalRecordStore(storage: try DirectoryRecordStorage(directory: stateDirectory()))
    }

    /// Like `withMessenger` (so that any first use uploads the device's keys), for commands that need only the client.
    func withClient<T>(_ body: (RelayClient) async throws -> T) async throws -> T {
        try await withMessenger { try await body($0.client) }
    }

    /// Connects, runs `body`, and closes the client whatever happens.
    func withConnection<T>(_ body: (RelayClient) async throws -> T) async throws -> T {
        let client = try makeClient()
        defer { client.close() }
        try await client.connect()
        do {
            let result = try await body(client)
            client.disconnect()
            return result
        } catch {
            client.disconnect()
            throw error
        }
    }
}

extension SecureMessengerError {
    var isUntrusted: Bool {
        if case .untrustedIdentity = self { return true }
        return false
    }
}

/// One JSON object per line on stdout.
enum Output {
    static func line<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }

    static func message(_ message: some SwiftProtobuf.Message) {
        if let text = try? message.jsonString() {
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// A membership event as `listen` prints it.
struct MembershipLine: Encodable {
    var conversation: String
    var membership: String
    var actor: String
    var users: [String]

    init(_ event: Relay_V1_MembershipEvent) {
        conversation = event.conversation
        membership = "\(event.change)"
        actor = event.actor
        users = event.users
    }
}

/// What `listen` prints of an attachment (never its key or digest).
struct AttachmentLine: Encodable {
    var id: String
    var region: String
    var size: UInt64
    var contentType: String
    var fileName: String

    enum CodingKeys: String, CodingKey {
        case id, region, size
        case contentType = "content_type"
        case fileName = "file_name"
    }
}

/// A delivery as `listen` and `history` print it.
struct DeliveryLine: Encodable {
    var conversation: String
    var epoch: UInt32
    var seq: UInt64
    var from: String
    var fromDevice: String
    /// Absent when the delivery does not carry it (a compact delivery from another user).
    var clientMessageID: String?
    var text: String?
    var error: String?
    /// An attachment (docs/media.md): where `--save-dir` saved it, or (without it) its id, region and size.
    var file: String?
    /// Where `--save-dir` saved the attachment's thumbnail (`<file>.thumb`), when it had one.
    var thumbnail: String?
    var attachment: AttachmentLine?
    /// Set when this delivery was a retry request that was answered: the message sent again, and to which device.
    var resent: String?
    var resentTo: String?

    enum CodingKeys: String, CodingKey {
        case conversation, epoch, seq, from, text, error, resent, file, thumbnail, attachment
        case resentTo = "resent_to"
        case fromDevice = "from_device"
        case clientMessageID = "client_message_id"
    }

    init(_ delivery: Relay_V1_Delivery, text: String?, error: String?) {
        conversation = delivery.conversation
        epoch = delivery.epoch
        seq = delivery.seq
        from = delivery.fromUser
        fromDevice = delivery.fromDevice
        clientMessageID = delivery.clientMessageID.isEmpty ? nil : delivery.clientMessageID
        self.text = text
        self.error = error
    }

    /// A delivery as `open` made it; nil for what is not the app's (retry requests answered, frames for others).
    init?(_ delivery: Relay_V1_Delivery, incoming: SecureMessenger.Incoming) {
        switch incoming {
        case .message(let body, let resendOf):
            self.init(delivery, text: String(decoding: body, as: UTF8.self), error: nil)
            if let resendOf { clientMessageID = resendOf }
        case .attachment(let pointer, let caption):
            self.init(delivery, text: caption.isEmpty ? nil : String(decoding: caption, as: UTF8.self), error: nil)
            attachment = AttachmentLine(id: pointer.id, region: pointer.region, size: pointer.size,
                                        contentType: pointer.contentType, fileName: pointer.fileName)
        case .membership:
            self.init(delivery, text: nil, error: nil)
        case .resent(_, let id, let device):
            self.init(delivery, text: nil, error: nil)
            resent = id
            resentTo = device
        case .control:
            return nil
        case .failed(let error, let retryRequested):
            self.init(delivery, text: nil, error: "cannot decrypt: \(error)" + (retryRequested ? " (asked the sender to send it again)" : ""))
        }
    }
}

extension RelayClientCommand {
    /// `send --to USER | --group G TEXT|-`
    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send TEXT (or, with -, one message per stdin line); prints one JSON receipt per message.")

        @ParentCommand var root: RelayClientCommand

        @Option(help: "The user to write to (1:1 conversation).")
        var to: String?

        @Option(help: "The group conversation id.")
        var group: String?

        @Option(help: "A file to send (encrypted, uploaded resumably; TEXT, if given, is its caption).")
        var file: String?

        @Option(help: "The file's MIME type, told to the receiver inside the encrypted message.")
        var contentType: String?

        @Option(help: "A small preview of the file (bytes the app made, at most 32 KiB), sealed under its own key inside the encrypted message; never uploaded.")
        var thumbnail: String?

        @Argument(help: "The message, or - for one message per line of standard input.")
        var text: String?

        struct ReceiptLine: Encodable {
            var conversation: String
            var client_message_id: String
            var reason_code: UInt8
            var attempts: Int
            var epoch: UInt32?
            var seq: UInt64?
        }

        func run() async throws {
            switch (to, group) {
            case (let user?, nil):
                guard UserID(rawValue: root.user) != nil, UserID(rawValue: user) != nil else {
                    throw ValidationError("not a user id: \(user)")
                }
            case (nil, let group?):
                guard ConversationID(rawValue: group)?.isGroup == true else { throw ValidationError("not a group id: \(group)") }
            default:
                throw ValidationError("give --to USER or --group G")
            }
            guard text != nil || file != nil else { throw ValidationError("give TEXT, - or --file PATH") }
            guard file == nil || text != "-" else { throw ValidationError("--file takes a caption, not - (standard input)") }
            guard thumbnail == nil || file != nil else { throw ValidationError("--thumbnail goes with --file") }
            let state = try root.stateDirectory()
            try await root.withMessenger { messenger in
                let pointer = if let file {
                    try await FileAttachments.upload(URL(fileURLWithPath: file), contentType: contentType,
                                                     thumbnail: thumbnail.map { URL(fileURLWithPath: $0) }, messenger: messenger, state: state)
                } else {
                    Relay_E2ee_V1_AttachmentPointer?.none
                }
                func sendOne(_ text: String) async throws {
                    let body = Data(text.utf8)
                    let receipt = if let to {
                        try await messenger.send(body, attachment: pointer, to: to)
                    } else {
                        try await messenger.send(body, attachment: pointer, toGroup: group ?? "")
                    }
                    let conversation = receipt.conversation
                    Output.line(ReceiptLine(conversation: conversation, client_message_id: receipt.clientMessageID,
                                            reason_code: receipt.reasonCode, attempts: receipt.attempts,
                                            epoch: receipt.epoch, seq: receipt.seq))
                }
                if text == "-" {
                    while let line = readLine() {
                        try await sendOne(line)
                    }
                } else {
                    try await sendOne(text ?? "")
                }
            }
        }
    }

    /// `listen [--count N] [--timeout S]`
    struct Listen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one JSON line per delivery, in order and without duplicates.")

        @ParentCommand var root: RelayClientCommand

        @Option(help: "Stop after N deliveries.")
        var count: Int?

        @Option(help: "Stop after S seconds (exit code 1 if --count was not reached).")
        var timeout: Double?

        @Option(help: "Download, verify and decrypt attachments into this directory (the line's \"file\" says where).")
        var saveDir: String?

        func run() async throws {
            let count = self.count
            let timeout = self.timeout
            let saveDir = self.saveDir.map { URL(fileURLWithPath: $0) }
            let reached = try await root.withMessenger(handlingEvents: false) { messenger -> Bool in
                let client = messenger.client
                return try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        if let count, count <= 0 { return true }
                        let lines = AsyncStream<Void>.makeStream()
                        // Deliveries and membership events both print a line and count.
                        await withTaskGroup(of: Void.self) { readers in
                            readers.addTask {
                                for await delivery in client.deliveries {
                                    let incoming = await messenger.open(delivery)
                                    guard var line = DeliveryLine(delivery, incoming: incoming) else { continue }
                                    if case .attachment(let pointer, _) = incoming, let saveDir {
                                        do {
                                            let saved = try await FileAttachments.save(pointer, messenger: messenger, into: saveDir)
                                            line.file = saved.file
                                            line.thumbnail = saved.thumbnail
                                        } catch {
                                            line.error = "cannot save the attachment: \(error)"
                                        }
                                    }
                                    Output.line(line)
                                    lines.continuation.yield()
                                }
                            }
                            readers.addTask {
                                for await event in client.events {
                                    do {
                                        try await messenger.handle(event)
                                    } catch {
                                        Output.error("relay-cli: handling an event: \(error)")
                                    }
                                    if case .membership(let membership)? = event.event {
                                        Output.line(MembershipLine(membership))
                                        lines.continuation.yield()
                                    }
                                }
                            }
                            var seen = 0
                            for await _ in lines.stream {
                                seen += 1
                                if let count, seen >= count { break }
                            }
                            readers.cancelAll()
                        }
                        return true
                    }
                    if let timeout {
                        group.addTask {
                            try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                            return count == nil
                        }
                    }
                    defer { group.cancelAll() }
                    return try await group.next() ?? false
                }
            }
            if !reached { throw ExitCode(1) }
        }
    }

    /// `group create|add|remove`
    struct Group: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a group, add or remove members; prints the group as JSON.",
            subcommands: [Create.self, Add.self, Remove.self])

        @ParentCommand var root: RelayClientCommand

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a group with these members.")
            @ParentCommand var group: Group
            @Argument(help: "Members besides you.") var members: [String]

            func run() async throws {
                var request = Relay_V1_Request()
                request.groupCreate.members = members
                try await group.root.ask(RequestMethod.groupCreate.rawValue, request)
            }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add users to a group.")
            @ParentCommand var group: Group
            @Argument(help: "The group conversation id.") var conversation: String
            @Argument(help: "Users to add.") var users: [String]

            func run() async throws {
                var request = Relay_V1_Request()
                request.groupAdd.conversation = conversation
                request.groupAdd.users = users
                try await group.root.ask(RequestMethod.groupAdd.rawValue, request)
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove users from a group.")
            @ParentCommand var group: Group
            @Argument(help: "The group conversation id.") var conversation: String
            @Argument(help: "Users to remove.") var users: [String]

            func run() async throws {
                var request = Relay_V1_Request()
                request.groupRemove.conversation = conversation
                request.groupRemove.users = users
                try await group.root.ask(RequestMethod.groupRemove.rawValue, request)
            }
        }
    }

    /// `devices list|link|remove`
    struct DevicesCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "devices",
            abstract: "List, link or remove your devices; prints your devices as JSON.",
            subcommands: [List.self, Link.self, Remove.self])

        @ParentCommand var root: RelayClientCommand

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List your devices.")
            @ParentCommand var devices: DevicesCommand

            func run() async throws {
                var request = Relay_V1_Request()
                request.devicesList = Relay_V1_DevicesList()
                try await devices.root.ask(RequestMethod.devicesList.rawValue, request)
            }
        }

        struct Link: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Link a new device (or re-admit a removed one) from this device.",
                discussion: "The new device shows its own token (e.g. as a QR code); this device presents it to prove the new device is yours.")
            @ParentCommand var devices: DevicesCommand
            @Argument(help: "The device to link.") var newDevice: String
            @Option(name: .customLong("device-token"), help: "The new device's token (its user must be yours, its device NEW-DEVICE).")
            var deviceToken: String?
            @Option(name: .customLong("device-token-file"), help: "File holding the new device's token.")
            var deviceTokenFile: String?

            func run() async throws {
                let token: String
                switch (deviceToken, deviceTokenFile) {
                case (let t?, nil): token = t
                case (nil, let file?): token = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                default: throw ValidationError("give the new device's token with exactly one of --device-token or --device-token-file")
                }
                var request = Relay_V1_Request()
                request.devicesLink.device = newDevice
                request.devicesLink.token = token
                try await devices.root.ask(RequestMethod.devicesLink.rawValue, request)
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove one of your devices (it is disconnected and may not connect until linked again).")
            @ParentCommand var devices: DevicesCommand
            @Argument(help: "The device to remove.") var device: String

            func run() async throws {
                var request = Relay_V1_Request()
                request.devicesRemove.device = device
                try await devices.root.ask(RequestMethod.devicesRemove.rawValue, request)
            }
        }
    }

    /// `read CONVERSATION SEQ [--epoch E]`
    struct ReadCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "read",
            abstract: "Mark a conversation read up to SEQ (a read receipt); the senders hear READ unless receipts are off.")
        @ParentCommand var root: RelayClientCommand
        @Argument(help: "The conversation id (e.g. alice~bob, or a group id).") var conversation: String
        @Argument(help: "The seq read up to (a Delivery's seq).") var seq: UInt64
        @Option(help: "The epoch of that message (a Delivery's epoch).") var epoch: UInt32 = 1

        func run() async throws {
            try await root.withClient { client in
                try await client.markRead(conversation: conversation, upTo: seq, epoch: epoch)
            }
            Output.line(["conversation": conversation, "readUpToSeq": "\(seq)"])
        }
    }

    /// `presence USER`
    struct PresenceCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "presence", abstract: "Print a user's presence as JSON.")
        @ParentCommand var root: RelayClientCommand
        @Argument(help: "The user.") var user: String

        func run() async throws {
            var request = Relay_V1_Request()
            request.presenceQuery.user = user
            try await root.ask(RequestMethod.presenceGet.rawValue, request)
        }
    }

    /// `history CONVERSATION [--after SEQ]`
    struct HistoryCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history", abstract: "Print a conversation's messages after SEQ, one JSON line each.")
        @ParentCommand var root: RelayClientCommand
        @Argument(help: "The conversation id.") var conversation: String
        @Option(help: "Only messages with a greater seq.") var after: UInt64 = 0
        @Option(help: "At most this many per request.") var limit: UInt32 = 100

        func run() async throws {
            try await root.withClient { client in
                var after = self.after
                while true {
                    var request = Relay_V1_Request()
                    request.historySync.conversation = conversation
                    request.historySync.afterSeq = after
                    request.historySync.limit = limit
                    let response = try await client.request(RequestMethod.historySync.rawValue, request)
                    try RelayClientCommand.check(response)
                    for message in response.history.messages {
                        // Each Signal message key decrypts once (forward secrecy): history shows what, not the text.
                        Output.line(DeliveryLine(message, text: nil, error: message.hasMembership ? nil : "not decrypted (history)"))
                        after = max(after, message.seq)
                    }
                    if !response.history.more || response.history.messages.isEmpty { break }
                }
            }
        }
    }

    /// `safety-number USER`
    struct SafetyNumber: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "safety-number",
            abstract: "Print the 60-digit safety number of you and USER (compare it with USER's out of band).")
        @ParentCommand var root: RelayClientCommand
        @Argument(help: "The user.") var user: String

        func run() async throws {
            let number = try await root.withMessenger { try await $0.safetyNumber(with: user) }
            print(number)
        }
    }

    /// `trust USER`
    struct Trust: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Accept USER's changed identity key (after checking the safety number); prints the devices accepted as JSON.")
        @ParentCommand var root: RelayClientCommand
        @Argument(help: "The user.") var user: String

        func run() async throws {
            let accepted = try root.offlineStore().acceptIdentityChange(of: user)
            Output.line(["user": user, "accepted_devices": "\(accepted.count)"])
        }
    }

    /// Sends a request and prints the response body as JSON.
    func ask(_ method: String, _ request: Relay_V1_Request) async throws {
        try await withMessenger { messenger in
            let response = try await messenger.client.request(method, request)
            try Self.check(response)
            switch response.body {
            case .group(let group)?:
                // The member list is what group sends encrypt for (sender key distribution).
                try messenger.noteGroup(group)
                Output.message(group)
            case .presence(let presence)?: Output.message(presence)
            case .history(let history)?: Output.message(history)
            case .devices(let devices)?: Output.message(devices)
            case .keyBundles(let bundles)?: Output.message(bundles)
            case .media(let grant)?: Output.message(grant)
            case .compactRefs(let refs)?: Output.message(refs)
            case .ok?, nil: Output.message(response)
            }
        }
    }

    /// Exits with code 2 and the relay's error on stderr when the response is an error.
    static func check(_ response: Relay_V1_Response) throws {
        if response.hasError {
            Output.error("relay error \(response.error.code): \(response.error.message)")
            throw ExitCode(2)
        }
    }
}

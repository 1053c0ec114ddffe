import ArgumentParser
import Foundation
import RelayClient
import RelayCore
import SwiftProtobuf

/// `relay-cli`: a device on the command line, over `RelayClient`.
public struct RelayClientCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "relay-cli",
        abstract: "Send and receive end-to-end sealed messages through the relay as one device.",
        discussion: """
            Message text is sealed with a PLACEHOLDER: ChaCha20-Poly1305 under a key derived \
            from a secret shared out of band (--secret or RELAY_SECRET). The relay sees only \
            ciphertext, but this is not end-to-end key agreement; that comes with the key directory.
            """,
        subcommands: [Send.self, Listen.self, ReadCommand.self, Group.self, DevicesCommand.self, PresenceCommand.self, HistoryCommand.self, PushCommand.self]
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

    @Option(help: "Shared secret for the placeholder sealer (default: $RELAY_SECRET).")
    var secret: String?

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

    func makeSealer() throws -> any MessageSealer {
        guard let secret = secret ?? ProcessInfo.processInfo.environment["RELAY_SECRET"], !secret.isEmpty else {
            throw ValidationError("give --secret or set RELAY_SECRET (placeholder sealing needs a shared secret)")
        }
        return SharedSecretSealer(secret: secret)
    }

    /// Connects, runs `body`, and closes the client whatever happens.
    func withClient<T>(_ body: (RelayClient) async throws -> T) async throws -> T {
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

/// A delivery as `listen` and `history` print it.
struct DeliveryLine: Encodable {
    var conversation: String
    var epoch: UInt32
    var seq: UInt64
    var from: String
    var fromDevice: String
    var clientMessageID: String
    var text: String?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case conversation, epoch, seq, from, text, error
        case fromDevice = "from_device"
        case clientMessageID = "client_message_id"
    }

    init(_ delivery: Relay_V1_Delivery, sealer: any MessageSealer) {
        conversation = delivery.conversation
        epoch = delivery.epoch
        seq = delivery.seq
        from = delivery.fromUser
        fromDevice = delivery.fromDevice
        clientMessageID = delivery.clientMessageID
        if delivery.hasMembership {
            text = nil
            error = nil
        } else if let plain = try? sealer.open(delivery.ciphertext, conversation: delivery.conversation) {
            text = String(decoding: plain, as: UTF8.self)
        } else {
            error = "cannot open (wrong secret?)"
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

        @Argument(help: "The message, or - for one message per line of standard input.")
        var text: String

        struct ReceiptLine: Encodable {
            var conversation: String
            var client_message_id: String
            var reason_code: UInt8
            var attempts: Int
            var epoch: UInt32?
            var seq: UInt64?
        }

        func conversation() throws -> String {
            switch (to, group) {
            case (let user?, nil):
                guard let me = UserID(rawValue: root.user), let them = UserID(rawValue: user) else {
                    throw ValidationError("not a user id: \(user)")
                }
                return ConversationID.direct(me, them).rawValue
            case (nil, let group?):
                return group
            default:
                throw ValidationError("give --to USER or --group G")
            }
        }

        func run() async throws {
            let conversation = try conversation()
            let sealer = try root.makeSealer()
            try await root.withClient { client in
                func sendOne(_ text: String) async throws {
                    let sealed = try sealer.seal(Data(text.utf8), conversation: conversation)
                    let receipt = try await client.send(conversation: conversation, ciphertext: sealed)
                    Output.line(ReceiptLine(conversation: conversation, client_message_id: receipt.clientMessageID,
                                            reason_code: receipt.reasonCode, attempts: receipt.attempts,
                                            epoch: receipt.epoch, seq: receipt.seq))
                }
                if text == "-" {
                    while let line = readLine() {
                        try await sendOne(line)
                    }
                } else {
                    try await sendOne(text)
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

        func run() async throws {
            let sealer = try root.makeSealer()
            let count = self.count
            let timeout = self.timeout
            let reached = try await root.withClient { client -> Bool in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        var seen = 0
                        if let count, count <= 0 { return true }
                        for await delivery in client.deliveries {
                            Output.line(DeliveryLine(delivery, sealer: sealer))
                            seen += 1
                            if let count, seen >= count { return true }
                        }
                        return count == nil
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
            let sealer = try root.makeSealer()
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
                        Output.line(DeliveryLine(message, sealer: sealer))
                        after = max(after, message.seq)
                    }
                    if !response.history.more || response.history.messages.isEmpty { break }
                }
            }
        }
    }

    /// Sends a request and prints the response body as JSON.
    func ask(_ method: String, _ request: Relay_V1_Request) async throws {
        try await withClient { client in
            let response = try await client.request(method, request)
            try Self.check(response)
            switch response.body {
            case .group(let group)?: Output.message(group)
            case .presence(let presence)?: Output.message(presence)
            case .history(let history)?: Output.message(history)
            case .devices(let devices)?: Output.message(devices)
            case .keyBundles(let bundles)?: Output.message(bundles)
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

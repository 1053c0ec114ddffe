// Fuzzes the device token parser: `TokenVerifier` (RelayIdentity) and
// `TokenAuthenticator` (RelayChat) in front of it. Random bytes rarely carry a
// valid Ed25519 signature, so most modes sign what the input gives with
// the deployment key the verifier trusts, to reach the claims behind it.
//
// Input layout (FuzzInput): mode, then by mode
//   0: the token itself (rest);
//   1: a header chunk (JSON; empty: the usual EdDSA header), then the
//      claims JSON (rest), encoded and signed here;
//   2: as 1, then through TokenAuthenticator with a user name chunk and a
//      client identifier chunk read before the header.
import Crypto
import Foundation
import FuzzDriver
import MQTT
import MQTTServer
import NIOCore
import RelayChat
import RelayIdentity

/// A fixed Ed25519 key: inputs replay the same way every run.
let signingKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
/// 2025-01-01T00:00:00Z: the verifier's clock.
let now = Date(timeIntervalSince1970: 1_735_689_600)
let standardHeader = #"{"alg":"EdDSA","typ":"JWT"}"#

/// The public key as a SubjectPublicKeyInfo PEM block (RFC 8410).
func publicKeyPEM() -> String {
    let spki: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00] + Array(signingKey.publicKey.rawRepresentation)
    return "-----BEGIN PUBLIC KEY-----\n\(Data(spki).base64EncodedString())\n-----END PUBLIC KEY-----\n"
}

func base64URL(_ bytes: some Collection<UInt8>) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// `header.claims.signature`, signed by `signingKey`.
func signed(header: [UInt8], claims: [UInt8]) -> String {
    let signingInput = base64URL(header.isEmpty ? Array(standardHeader.utf8) : header) + "." + base64URL(claims)
    let signature = try! signingKey.signature(for: Data(signingInput.utf8))
    return signingInput + "." + base64URL(signature)
}

/// Runs `body` to completion; traps if it takes longer than 10 s.
func block(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    guard done.wait(timeout: .now() + .seconds(10)) == .success else {
        fatalError("token check did not complete in 10 s")
    }
}

func makeTest() throws -> (UnsafeRawBufferPointer) -> Void {
    let verifier = TokenVerifier(publicKey: try DeploymentPublicKey(pem: publicKeyPEM()), now: { now })
    let authenticator = TokenAuthenticator(verifier: verifier)
    return { raw in
        var input = FuzzInput(raw)
        switch input.byte() % 3 {
        case 0:
            let token = String(decoding: input.rest(), as: UTF8.self)
            block { _ = try? await verifier.verify(token) }
        case 1:
            let header = input.chunk()
            let token = signed(header: header, claims: input.rest())
            block {
                // A token whose signature checks out either is refused or has valid claims.
                if let claims = try? await verifier.verify(token) {
                    fuzzCheck((try? claims.validateIdentifiers()) != nil, "accepted a token with invalid identifiers: \(claims)")
                    fuzzCheck(now < claims.expiresAt.addingTimeInterval(60), "accepted an expired token: \(claims)")
                }
            }
        default:
            let username = String(decoding: input.chunk(), as: UTF8.self)
            let clientIdentifier = String(decoding: input.chunk(), as: UTF8.self)
            let header = input.chunk()
            let token = signed(header: header, claims: input.rest())
            let connect = ConnectPacket(protocolVersion: .v5, clientIdentifier: clientIdentifier, username: username,
                                        password: ByteBuffer(string: token))
            block {
                if case .accept(let principal) = await authenticator.authenticate(connect) {
                    fuzzCheck(principal.username == username && principal.attributes[DeviceAttribute.device] == clientIdentifier,
                                 "accepted a CONNECT whose user name or client id is not the token's")
                }
            }
        }
    }
}

/// Seeds: valid tokens (raw and as claims to sign) and a few near misses.
func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let claims = #"{"sub":"alice","dev":"alice-phone","home":"us-east","iat":1735689000,"exp":1735692600,"jti":"t1"}"#
    let fractional = #"{"sub":"bob","dev":"bob-phone","home":"eu-west","iat":1735689000.5,"exp":1.7356926e9}"#
    var seeds: [(name: String, bytes: [UInt8])] = []
    seeds.append(("raw-valid", [0] + Array(signed(header: [], claims: Array(claims.utf8)).utf8)))
    seeds.append(("raw-none", [0] + Array((base64URL(Array(#"{"alg":"none"}"#.utf8)) + "." + base64URL(Array(claims.utf8)) + ".").utf8)))
    for (name, body) in [("claims", claims), ("claims-fractional", fractional)] {
        var seed = FuzzSeed()
        seed.byte(1)
        seed.chunk([UInt8]())
        seed.rest(Array(body.utf8))
        seeds.append((name, seed.bytes))
    }
    var crit = FuzzSeed()
    crit.byte(1)
    crit.chunk(Array(#"{"alg":"EdDSA","crit":["exp"]}"#.utf8))
    crit.rest(Array(claims.utf8))
    seeds.append(("claims-crit", crit.bytes))
    var connect = FuzzSeed()
    connect.byte(2)
    connect.chunk(Array("alice".utf8))
    connect.chunk(Array("alice-phone".utf8))
    connect.chunk([UInt8]())
    connect.rest(Array(claims.utf8))
    seeds.append(("connect", connect.bytes))
    return seeds
}

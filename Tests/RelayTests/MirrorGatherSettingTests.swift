import Foundation
import NIOCore
@testable import RelayChat
import RelayTopology
import Testing

/// `mirrorGatherMs` in a region's settings (decision 0033).
@Suite struct MirrorGatherSettingTests {
    private func settings(_ json: String) throws -> RegionSettings {
        try JSONDecoder().decode(RegionSettings.self, from: Data(json.utf8))
    }

    @Test func theWindowDefaultsToATenthOfASecondAndZeroTurnsItOff() throws {
        #expect(try settings(#"{"name": "a"}"#).mirrorGather == .milliseconds(100))
        #expect(try settings(#"{"name": "a", "mirrorGatherMs": 0}"#).mirrorGather == .zero)
        #expect(try settings(#"{"name": "a", "mirrorGatherMs": 5000}"#).mirrorGather == .seconds(5))
    }

    @Test func aWindowOutOfRangeIsRefusedByName() {
        for value in ["-1", "5001", "\"fast\""] {
            #expect(throws: DecodingError.self, "\(value)") { try settings(#"{"name": "a", "mirrorGatherMs": \#(value)}"#) }
        }
        do {
            _ = try settings(#"{"name": "a", "mirrorGatherMs": -1}"#)
        } catch {
            #expect("\(error)".contains("mirrorGatherMs must be 0 to 5000"))
        }
    }
}

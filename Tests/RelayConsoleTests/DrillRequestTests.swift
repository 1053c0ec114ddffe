import Foundation
@testable import RelayConsole
import Testing

@Suite struct DrillRequestTests {
    let regions = ["us-east", "eu-west", "ap-south"]

    @Test func aFormBecomesARequestWithDefaults() throws {
        let request = try DrillRequest(form: .init(region: "us-east"), regions: regions)
        #expect(request == DrillRequest(kind: .failover, region: "us-east", mode: nil, automatic: false, devices: 6, rate: 20, duration: 10))
        let full = try DrillRequest(form: .init(kind: "partition", region: "eu-west", mode: "sync", automatic: true, devices: 4, rate: 10, duration: 3),
                                    regions: regions)
        #expect(full.kind == .partition && full.mode == .sync && full.automatic && full.summary == "partition of eu-west (sync, automatic): 4 devices, 10 msg/s, 3 s")
        let asSet = try DrillRequest(form: .init(region: "us-east", mode: ""), regions: regions)
        #expect(asSet.mode == nil)
    }

    @Test func badFormsAreRefusedWithWhatToFix() {
        let bad: [DrillRequest.Form] = [
            .init(region: nil), .init(region: "mars"), .init(kind: "meteor", region: "us-east"), .init(region: "us-east", mode: "eventually"),
            .init(region: "us-east", devices: 1), .init(region: "us-east", devices: 100_000), .init(region: "us-east", rate: 0),
            .init(region: "us-east", rate: .nan), .init(region: "us-east", duration: .infinity), .init(region: "us-east", duration: 0.5),
        ]
        for form in bad {
            #expect(throws: DrillRequest.Refusal.self) { try DrillRequest(form: form, regions: regions) }
        }
    }

    @Test func theFormDecodesFromThePagesJSON() throws {
        let json = #"{"kind":"failover","region":"us-east","mode":"","automatic":false,"devices":4,"rate":20,"duration":3}"#
        let form = try JSONDecoder().decode(DrillRequest.Form.self, from: Data(json.utf8))
        let request = try DrillRequest(form: form, regions: regions)
        #expect(request.devices == 4 && request.duration == 3)
    }
}

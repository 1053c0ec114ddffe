import Testing

@testable import RelayCore

@Suite struct RequestValidationTests {
    @Test func identifiersInRequestsMustBeValid() throws {
        var request = Relay_V1_Request()
        request.groupAdd = .with { $0.conversation = "gabc"; $0.users = ["bob", "carol"] }
        try RequestValidation.validate(request)
        request.groupAdd = .with { $0.conversation = "alice~bob"; $0.users = ["bob"] }
        #expect(throws: InvalidRequest.self) { try RequestValidation.validate(request) }  // not a group
        request.groupAdd = .with { $0.conversation = "gabc"; $0.users = ["{c:x}"] }
        #expect(throws: InvalidRequest.self) { try RequestValidation.validate(request) }
        request.groupCreate = .with { $0.members = Array(repeating: "bob", count: RequestValidation.maximumUsers + 1) }
        #expect(throws: InvalidRequest.self) { try RequestValidation.validate(request) }
        request.historySync = .with { $0.conversation = "alice~alice" }
        try RequestValidation.validate(request)
        request.historySync = .with { $0.conversation = "bob~alice" }
        #expect(throws: InvalidRequest.self) { try RequestValidation.validate(request) }
        request.keysFetch = .with { $0.user = "" }
        #expect(throws: InvalidRequest.self) { try RequestValidation.validate(request) }
        request.devicesRemove = .with { $0.device = "a/b" }
        #expect(throws: InvalidRequest.self) { try RequestValidation.validate(request) }
        request.devicesList = Relay_V1_DevicesList()
        try RequestValidation.validate(request)
    }
}

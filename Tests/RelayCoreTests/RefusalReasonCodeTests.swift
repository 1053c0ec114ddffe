import MQTT
import Testing

@testable import RelayCore

/// RelayCore carries reason codes as plain bytes so it need not import MQTT;
/// these checks keep the bytes in step with `MQTT.ReasonCode`.
@Suite struct RefusalReasonCodeTests {
    @Test func bytesMatchTheMQTTModule() {
        #expect(RefusalReasonCode.unspecifiedError == ReasonCode.unspecifiedError.rawValue)
        #expect(RefusalReasonCode.implementationSpecificError == ReasonCode.implementationSpecificError.rawValue)
        #expect(RefusalReasonCode.notAuthorized == ReasonCode.notAuthorized.rawValue)
        #expect(RefusalReasonCode.topicFilterInvalid == ReasonCode.topicFilterInvalid.rawValue)
        #expect(RefusalReasonCode.topicNameInvalid == ReasonCode.topicNameInvalid.rawValue)
        #expect(RefusalReasonCode.quotaExceeded == ReasonCode.quotaExceeded.rawValue)
        #expect(RefusalReasonCode.payloadFormatInvalid == ReasonCode.payloadFormatInvalid.rawValue)
    }

    /// MQTT 5.0 §3.4.2.1: the reason codes a PUBACK may carry.
    static let pubAckCodes: Set<UInt8> = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]

    @Test func publishRefusalsUseValidPubAckCodes() {
        let refusals: [any RelayRefusal] = [
            TopicRefusal.notPermitted, TopicRefusal.invalidMethod, TopicRefusal.invalidConversation(.notAConversation),
            SendRefusal.tooLarge(bytes: 2, limit: 1), SendRefusal.notASend, SendRefusal.noCiphertext,
            RateLimited(retryAfterSeconds: 1),
        ]
        for refusal in refusals {
            #expect(Self.pubAckCodes.contains(refusal.reasonCode), "\(refusal)")
            #expect(ReasonCode(rawValue: refusal.reasonCode).isFailure)
        }
    }

    /// The codes the relay answers (ChatError) map to PUBACK codes §3.4.2.1 allows.
    @Test func everyErrorCodeHasAValidPubAckCode() {
        let codes: [ErrorCode] = [
            .rateLimited, .notMember, .notAdmin, .groupFull, .tooManyDevices, .staleDevices, .tooLarge, .badRequest,
            .notFound, .forbiddenTopic, .queueFull, .exists, .quota, .forbidden, .badToken, .badSignature, .fenced,
            .wrongRegion, .unavailable, ErrorCode(rawValue: "loading"),
        ]
        for code in codes {
            #expect(Self.pubAckCodes.contains(code.pubackReasonCode), "\(code)")
            #expect(ReasonCode(rawValue: code.pubackReasonCode).isFailure)
        }
        #expect(ErrorCode.notMember.pubackReasonCode == ReasonCode.notAuthorized.rawValue)
        #expect(ErrorCode.rateLimited.pubackReasonCode == ReasonCode.quotaExceeded.rawValue)
        #expect(ErrorCode.badRequest.pubackReasonCode == ReasonCode.payloadFormatInvalid.rawValue)
        #expect(ErrorCode.unavailable.pubackReasonCode == ReasonCode.unspecifiedError.rawValue)
        #expect(ErrorCode.notFound.pubackReasonCode == ReasonCode.implementationSpecificError.rawValue)
    }

    /// Failures that pass are retried; refusals are not.
    @Test func onlyPassingFailuresAreTransient() {
        for code in [ErrorCode.unavailable, .fenced, .wrongRegion, ErrorCode(rawValue: "loading"), ErrorCode(rawValue: "tryagain")] {
            #expect(!code.isPermanent, "\(code)")
        }
        for code in [ErrorCode.notMember, .badRequest, .notFound, .rateLimited, .exists] {
            #expect(code.isPermanent, "\(code)")
        }
    }

    /// MQTT 5.0 §3.9.3: SUBACK failure codes.
    @Test func subscriptionRefusalUsesAValidSubAckCode() {
        let subAckFailures: Set<UInt8> = [0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2]
        #expect(subAckFailures.contains(SubscriptionRefusal.notOwnTopics.reasonCode))
    }
}

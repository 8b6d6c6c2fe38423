import Testing

@testable import MeridianWebSocket

@Suite("PerMessageDeflateAgreement.Policy")
struct PerMessageDeflateAgreementPolicyTests {
    @Test("defaults: enabled, context takeover allowed, level 6, 15-bit windows")
    func defaults() {
        let policy = PerMessageDeflateAgreement.Policy()
        #expect(policy.enabled)
        #expect(!policy.serverNoContextTakeover)
        #expect(!policy.clientNoContextTakeover)
        #expect(policy.level == 6)
        #expect(policy.serverMaxWindowBits == 15)
        #expect(policy.clientMaxWindowBits == 15)
    }

    @Test("window sizes out of range are brought into it by negotiate")
    func clamped() {
        let policy = PerMessageDeflateAgreement.Policy(serverMaxWindowBits: 8, clientMaxWindowBits: 20)
        let agreement = PerMessageDeflateAgreement.negotiate(
            offers: ["permessage-deflate; client_max_window_bits"], policy: policy)
        #expect(agreement?.serverMaxWindowBits == 9)
        #expect(agreement?.clientMaxWindowBits == 15)
    }
}

import Testing

@testable import MeridianWebSocket

@Suite("PerMessageDeflateAgreement.negotiate")
struct PerMessageDeflateAgreementTests {
    private let policy = PerMessageDeflateAgreement.Policy()

    private func negotiate(
        _ offers: [String],
        _ policy: PerMessageDeflateAgreement.Policy = .init()
    ) -> PerMessageDeflateAgreement? {
        PerMessageDeflateAgreement.negotiate(offers: offers, policy: policy)
    }

    @Test("no offer, or no permessage-deflate offer: no extension")
    func noOffer() {
        #expect(negotiate([]) == nil)
        #expect(negotiate([""]) == nil)
        #expect(negotiate(["x-webkit-deflate-frame", "foo; bar=1"]) == nil)
    }

    @Test("a bare offer is accepted with the defaults")
    func bare() throws {
        let agreement = try #require(negotiate(["permessage-deflate"]))
        #expect(agreement == PerMessageDeflateAgreement(responseHeader: "permessage-deflate"))
        #expect(!agreement.serverNoContextTakeover && !agreement.clientNoContextTakeover)
        #expect(agreement.serverMaxWindowBits == 15 && agreement.clientMaxWindowBits == 15)
    }

    @Test("client_max_window_bits without a value gets a value back")
    func clientWindowAny() throws {
        let agreement = try #require(negotiate(["permessage-deflate; client_max_window_bits"]))
        #expect(agreement.clientMaxWindowBits == 15)
        #expect(agreement.responseHeader == "permessage-deflate; client_max_window_bits=15")
        let limited = PerMessageDeflateAgreement.Policy(clientMaxWindowBits: 12)
        let smaller = try #require(negotiate(["permessage-deflate; client_max_window_bits"], limited))
        #expect(smaller.clientMaxWindowBits == 12)
        #expect(smaller.responseHeader == "permessage-deflate; client_max_window_bits=12")
    }

    @Test("client_max_window_bits with a value: the smaller of it and the policy's")
    func clientWindowValue() throws {
        let agreement = try #require(negotiate(["permessage-deflate; client_max_window_bits=10"]))
        #expect(agreement.clientMaxWindowBits == 10)
        #expect(agreement.responseHeader == "permessage-deflate; client_max_window_bits=10")
        let limited = PerMessageDeflateAgreement.Policy(clientMaxWindowBits: 9)
        #expect(negotiate(["permessage-deflate; client_max_window_bits=10"], limited)?.clientMaxWindowBits == 9)
        // 8 is fine for the client's window: the server only inflates with it.
        #expect(negotiate(["permessage-deflate; client_max_window_bits=8"])?.clientMaxWindowBits == 8)
    }

    @Test("without client_max_window_bits the answer does not name it, and a policy under 15 declines")
    func clientWindowNotOffered() {
        #expect(negotiate(["permessage-deflate"])?.responseHeader.contains("client_max_window_bits") == false)
        let limited = PerMessageDeflateAgreement.Policy(clientMaxWindowBits: 12)
        #expect(negotiate(["permessage-deflate"], limited) == nil)
        #expect(
            negotiate(["permessage-deflate, permessage-deflate; client_max_window_bits"], limited)?.clientMaxWindowBits
                == 12)
    }

    @Test("server_no_context_takeover requested is honoured")
    func serverNoContextTakeover() throws {
        let agreement = try #require(negotiate(["permessage-deflate; server_no_context_takeover"]))
        #expect(agreement.serverNoContextTakeover)
        #expect(!agreement.clientNoContextTakeover)
        #expect(agreement.responseHeader == "permessage-deflate; server_no_context_takeover")
    }

    @Test("client_no_context_takeover offered is echoed; the policy can ask for either")
    func contextTakeoverPolicy() throws {
        let offered = try #require(negotiate(["permessage-deflate; client_no_context_takeover"]))
        #expect(offered.clientNoContextTakeover)
        #expect(offered.responseHeader == "permessage-deflate; client_no_context_takeover")
        let both = PerMessageDeflateAgreement.Policy(serverNoContextTakeover: true, clientNoContextTakeover: true)
        let forced = try #require(negotiate(["permessage-deflate"], both))
        #expect(forced.serverNoContextTakeover && forced.clientNoContextTakeover)
        #expect(forced.responseHeader == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    }

    @Test("server_max_window_bits: the smaller of the offer and the policy, always named when offered")
    func serverWindow() throws {
        let agreement = try #require(negotiate(["permessage-deflate; server_max_window_bits=10"]))
        #expect(agreement.serverMaxWindowBits == 10)
        #expect(agreement.responseHeader == "permessage-deflate; server_max_window_bits=10")
        let limited = PerMessageDeflateAgreement.Policy(serverMaxWindowBits: 12)
        #expect(negotiate(["permessage-deflate; server_max_window_bits=14"], limited)?.serverMaxWindowBits == 12)
        // Not offered, but the policy's window is smaller: the answer says so (§7.1.2.1 allows it).
        #expect(
            negotiate(["permessage-deflate"], limited)?.responseHeader
                == "permessage-deflate; server_max_window_bits=12")
    }

    @Test("server_max_window_bits=8 is declined (zlib's raw deflate has no 256-byte window), the next offer taken")
    func serverWindow8() throws {
        #expect(negotiate(["permessage-deflate; server_max_window_bits=8"]) == nil)
        let next = try #require(
            negotiate(["permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"]))
        #expect(next.serverMaxWindowBits == 9)
    }

    @Test("an unknown parameter declines the offer and the next offer is accepted")
    func unknownParameter() throws {
        #expect(negotiate(["permessage-deflate; foo"]) == nil)
        let agreement = try #require(
            negotiate(["permessage-deflate; foo=1, permessage-deflate; server_no_context_takeover"]))
        #expect(agreement.serverNoContextTakeover)
    }

    @Test(
        "a duplicate parameter declines the offer",
        arguments: [
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        ])
    func duplicate(offer: String) {
        #expect(negotiate([offer]) == nil)
        #expect(negotiate([offer + ", permessage-deflate"])?.responseHeader == "permessage-deflate")
    }

    @Test(
        "invalid window bits decline the offer",
        arguments: [
            "7", "16", "abc", "", "08", "-9", "9.0", "\"7\"", "\"16\"", "1 5",
        ])
    func invalidBits(value: String) {
        #expect(negotiate(["permessage-deflate; client_max_window_bits=\(value)"]) == nil)
        #expect(negotiate(["permessage-deflate; server_max_window_bits=\(value)"]) == nil)
    }

    @Test(
        "parameters with values they must not have, or without values they need, decline the offer",
        arguments: [
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=\"\"",
            "permessage-deflate; server_max_window_bits",
        ])
    func wrongValueShape(offer: String) {
        #expect(negotiate([offer]) == nil)
    }

    @Test("quoted values are unquoted")
    func quoted() throws {
        let agreement = try #require(
            negotiate(["permessage-deflate; client_max_window_bits=\"10\"; server_max_window_bits=\"11\""]))
        #expect(agreement.clientMaxWindowBits == 10)
        #expect(agreement.serverMaxWindowBits == 11)
        #expect(agreement.responseHeader == "permessage-deflate; server_max_window_bits=11; client_max_window_bits=10")
    }

    @Test("policy.enabled = false: no extension")
    func disabled() {
        #expect(negotiate(["permessage-deflate"], .init(enabled: false)) == nil)
    }

    @Test("several header fields: the first acceptable offer across them wins")
    func severalFields() throws {
        let agreement = try #require(
            negotiate([
                "x-webkit-deflate-frame",
                "permessage-deflate; bogus, permessage-deflate; client_max_window_bits=11",
                "permessage-deflate",
            ])
        )
        #expect(agreement.clientMaxWindowBits == 11)
        #expect(
            negotiate(["foo", "permessage-deflate; x", "permessage-deflate"])?.responseHeader == "permessage-deflate")
    }

    @Test("what browsers send")
    func browsers() throws {
        // Chrome and Firefox.
        let agreement = try #require(negotiate(["permessage-deflate; client_max_window_bits"]))
        #expect(agreement.responseHeader == "permessage-deflate; client_max_window_bits=15")
        // Safari.
        #expect(negotiate(["permessage-deflate"])?.responseHeader == "permessage-deflate")
    }

    @Test("names are case-insensitive and whitespace is allowed around separators")
    func lenientSyntax() throws {
        let agreement = try #require(
            negotiate(["  Permessage-Deflate ;Server_No_Context_Takeover ; client_max_window_bits = 12 "]))
        #expect(agreement.serverNoContextTakeover)
        #expect(agreement.clientMaxWindowBits == 12)
    }

    @Test("the public initializer lists the parameters that are not defaults")
    func initializer() {
        #expect(PerMessageDeflateAgreement().responseHeader == "permessage-deflate")
        let agreement = PerMessageDeflateAgreement(
            serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12)
        #expect(
            agreement.responseHeader
                == "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
        )
    }
}

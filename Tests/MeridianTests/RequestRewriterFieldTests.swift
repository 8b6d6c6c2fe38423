import Testing

@testable import MeridianProxy

/// The byte-level helpers of the proxy's header rewriting.
struct RequestRewriterFieldTests {
    @Test func responseFieldsLeftBehindInAnyCase() {
        for name in [
            "TE", "Date", "SERVER", "Upgrade", "trailer", "Connection", "Keep-Alive", "X-Request-Id", "Content-Length",
            "Proxy-Connection", "Transfer-Encoding", "Proxy-Authenticate", "PROXY-AUTHORIZATION",
        ] {
            #expect(RequestRewriter.isDroppedResponseField(name), "\(name)")
        }
        for name in ["Content-Type", "ETag", "Dates", "Serve", "x-request-ids", "Last-Modified", "", "Content-Lengtg"] {
            #expect(!RequestRewriter.isDroppedResponseField(name), "\(name)")
        }
    }

    @Test func forwardedValuesAreTokensOrQuotedStrings() {
        #expect(RequestRewriter.quotedIfNeeded("example.com") == "example.com")
        #expect(RequestRewriter.quotedIfNeeded("example.com:8080") == "\"example.com:8080\"")
        #expect(RequestRewriter.quotedIfNeeded("a\"b\\c") == "\"a\\\"b\\\\c\"")
        #expect(RequestRewriter.forwardedNode("192.0.2.1") == "192.0.2.1")
        #expect(RequestRewriter.forwardedNode("2001:db8::1") == "\"[2001:db8::1]\"")
        #expect(RequestRewriter.forwardedNode(nil) == "unknown")
    }
}

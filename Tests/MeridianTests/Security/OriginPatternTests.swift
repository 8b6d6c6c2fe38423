import MeridianSecurity
import MeridianConfig
import Testing

@Suite("OriginPattern")
struct OriginPatternTests {
    private func pattern(_ text: String) throws -> OriginPattern {
        try OriginPattern(text)
    }

    private func problem(_ text: String) -> String? {
        do {
            _ = try OriginPattern(text)
            return nil
        } catch {
            return error.message
        }
    }

    // MARK: Exact origins

    @Test func exactOriginMatchesItself() throws {
        let p = try pattern("https://app.example.com")
        #expect(p.matches("https://app.example.com"))
        #expect(p.description == "https://app.example.com")
    }

    @Test func exactOriginComparesSchemeAndHostCaseInsensitively() throws {
        let p = try pattern("HTTPS://App.Example.COM")
        #expect(p.description == "https://app.example.com")
        #expect(p.matches("https://app.example.com"))
        #expect(p.matches("HTTPS://APP.EXAMPLE.COM"))
        #expect(p.matches("https://App.Example.Com"))
    }

    @Test func exactOriginRejectsOtherSchemePortOrHost() throws {
        let p = try pattern("https://app.example.com")
        #expect(!p.matches("http://app.example.com"))
        #expect(!p.matches("https://app.example.com:8443"))
        #expect(!p.matches("https://app.example.com.evil.net"))
        #expect(!p.matches("https://xapp.example.com"))
        #expect(!p.matches("https://example.com"))
        #expect(!p.matches("https://sub.app.example.com"))
        #expect(!p.matches("null"))
        #expect(!p.matches(""))
    }

    @Test func requestOriginsThatAreNotSerializedOriginsNeverMatch() throws {
        let p = try pattern("https://app.example.com")
        #expect(!p.matches("https://app.example.com/"))
        #expect(!p.matches("https://app.example.com/path"))
        #expect(!p.matches("https://user@app.example.com"))
        #expect(!p.matches("https://app.example.com?x"))
        #expect(!p.matches("app.example.com"))
        #expect(!p.matches(" https://app.example.com"))
        #expect(!p.matches("https://app.example.com:"))
        #expect(!p.matches("https://app.example.com:99999"))
        #expect(!p.matches("https://app..example.com"))
    }

    @Test(arguments: [
        ("https://a.com:443", "https://a.com"),
        ("https://a.com", "https://a.com:443"),
        ("http://a.com:80", "http://a.com"),
        ("http://a.com", "http://a.com:80"),
        ("wss://a.com:443", "wss://a.com"),
        ("ws://a.com", "ws://a.com:80"),
        ("https://a.com", "https://a.com:0443"),
    ])
    func defaultPortsAreNormalised(configured: String, requested: String) throws {
        #expect(try pattern(configured).matches(requested))
    }

    @Test func defaultPortIsDroppedFromDescription() throws {
        #expect(try pattern("https://a.com:443").description == "https://a.com")
        #expect(try pattern("http://a.com:80").description == "http://a.com")
        #expect(try pattern("http://a.com:443").description == "http://a.com:443")
    }

    @Test func nonDefaultPortsMustMatchExactly() throws {
        let p = try pattern("http://localhost:3000")
        #expect(p.matches("http://localhost:3000"))
        #expect(!p.matches("http://localhost:3001"))
        #expect(!p.matches("http://localhost"))
        #expect(!(try pattern("https://a.com:80")).matches("https://a.com"))
        #expect(!(try pattern("https://a.com")).matches("https://a.com:80"))
    }

    @Test func ipv6AndIPv4Hosts() throws {
        let v6 = try pattern("http://[::1]:8080")
        #expect(v6.matches("http://[::1]:8080"))
        #expect(!v6.matches("http://[::1]"))
        #expect(try pattern("http://[FE80::1]").matches("http://[fe80::1]:80"))
        #expect(try pattern("http://127.0.0.1:5173").matches("http://127.0.0.1:5173"))
    }

    @Test func customSchemesAreAllowed() throws {
        let p = try pattern("chrome-extension://abcdefghijklmnop")
        #expect(p.matches("chrome-extension://abcdefghijklmnop"))
        #expect(!p.matches("https://abcdefghijklmnop"))
        #expect(try pattern("capacitor://localhost").matches("capacitor://localhost"))
    }

    @Test func surroundingWhitespaceInConfigurationIsIgnored() throws {
        #expect(try pattern("  https://a.com ").matches("https://a.com"))
    }

    // MARK: Wildcard subdomains

    @Test func wildcardMatchesSubdomainsAtAnyDepth() throws {
        let p = try pattern("https://*.example.com")
        #expect(p.description == "https://*.example.com")
        #expect(p.matches("https://x.example.com"))
        #expect(p.matches("https://a.b.example.com"))
        #expect(p.matches("HTTPS://X.EXAMPLE.COM"))
        #expect(p.matches("https://x.example.com:443"))
        #expect(p.matches("https://x-y.example.com"))
    }

    @Test func wildcardDoesNotMatchLookalikes() throws {
        let p = try pattern("https://*.example.com")
        #expect(!p.matches("https://example.com"))
        #expect(!p.matches("https://evil-example.com"))
        #expect(!p.matches("https://evilexample.com"))
        #expect(!p.matches("https://x.example.com.evil.net"))
        #expect(!p.matches("https://.example.com"))
        #expect(!p.matches("https://x..example.com"))
        #expect(!p.matches("http://x.example.com"))
        #expect(!p.matches("https://x.example.com:8443"))
        #expect(!p.matches("https://x.example.co"))
        #expect(!p.matches("https://x.example.com/"))
        #expect(!p.matches("null"))
    }

    @Test func wildcardWithPortMatchesOnlyThatPort() throws {
        let p = try pattern("https://*.example.com:8443")
        #expect(p.matches("https://a.example.com:8443"))
        #expect(!p.matches("https://a.example.com"))
        #expect(!p.matches("https://a.example.com:443"))
    }

    @Test func wildcardSuffixIsCaseInsensitive() throws {
        let p = try pattern("https://*.Example.COM")
        #expect(p.description == "https://*.example.com")
        #expect(p.matches("https://a.example.com"))
    }

    // MARK: Any and null

    @Test func anyMatchesEveryOriginButNull() throws {
        let p = try pattern("*")
        #expect(p.isAny)
        #expect(p.matches("https://anything.example"))
        #expect(p.matches("http://localhost:1234"))
        #expect(!p.matches("null"))
        #expect(p.description == "*")
    }

    @Test func nullMatchesOnlyTheOpaqueOrigin() throws {
        let p = try pattern("null")
        #expect(p.matches("null"))
        #expect(!p.matches("https://a.com"))
        #expect(!p.matches("Null "))
        #expect(try pattern("NULL").matches("null"))
        #expect(p.description == "null")
    }

    // MARK: Configuration mistakes

    @Test func trailingSlashIsReportedWithTheFix() {
        let message = problem("https://app.example.com/")
        #expect(message?.contains("path") == true)
        #expect(message?.contains("\"https://app.example.com\"") == true)
    }

    @Test func pathIsReported() {
        let message = problem("https://app.example.com/app")
        #expect(message?.contains("path") == true)
        #expect(message?.contains("\"https://app.example.com\"") == true)
    }

    @Test func queryAndFragmentAreReported() {
        #expect(problem("https://a.com?x=1")?.contains("query") == true)
        #expect(problem("https://a.com#top")?.contains("fragment") == true)
    }

    @Test func userinfoIsReported() {
        let message = problem("https://user:pw@a.com")
        #expect(message?.contains("user") == true)
        #expect(message?.contains("\"https://a.com\"") == true)
    }

    @Test func missingSchemeIsReported() {
        let message = problem("app.example.com")
        #expect(message?.contains("scheme") == true)
        #expect(message?.contains("\"https://app.example.com\"") == true)
        #expect(problem("//app.example.com")?.contains("scheme") == true)
        #expect(problem("*.example.com")?.contains("\"https://*.example.com\"") == true)
        #expect(problem("localhost:3000")?.contains("scheme") == true)
    }

    @Test func emptyOriginAndHostAreReported() {
        #expect(problem("") != nil)
        #expect(problem("   ") != nil)
        #expect(problem("https://")?.contains("host") == true)
        #expect(problem("https://:443")?.contains("host") == true)
    }

    @Test func badPortsAreReported() {
        #expect(problem("https://a.com:99999")?.contains("port") == true)
        #expect(problem("https://a.com:abc")?.contains("port") == true)
        #expect(problem("https://a.com:")?.contains("port") == true)
        #expect(problem("https://a.com:0")?.contains("port") == true)
    }

    @Test func badHostsAreReported() {
        #expect(problem("https://a..com")?.contains("host") == true)
        #expect(problem("https://a%b.com")?.contains("host") == true)
        #expect(problem("https://[::1")?.contains("host") == true)
        #expect(problem("https://a.com.")?.contains("host") == true)
    }

    @Test func nonASCIIHostAsksForPunycode() {
        #expect(problem("https://bücher.example")?.contains("xn--") == true)
    }

    @Test(arguments: [
        "https://ex*.com",
        "https://*example.com",
        "https://a.*.example.com",
        "https://a.example.*",
        "https://**.example.com",
        "https://*.*.example.com",
        "*://example.com",
        "http*://example.com",
        "https://*",
    ])
    func misplacedWildcardsAreReported(text: String) {
        let message = problem(text)
        #expect(message != nil)
        #expect(message?.contains("*") == true)
        #expect(message?.contains(text) == true)
    }

    @Test func wildcardOverATopLevelDomainIsReported() {
        let message = problem("https://*.com")
        #expect(message?.contains("every") == true)
    }

    @Test func badSchemeIsReported() {
        #expect(problem("1http://a.com")?.contains("scheme") == true)
        #expect(problem("ht tp://a.com") != nil)
    }
}

@Suite("OriginPattern edge cases")
struct OriginPatternEdgeCaseTests {
    private func problem(_ text: String) -> String? {
        do {
            _ = try OriginPattern(text)
            return nil
        } catch {
            #expect(error.description == error.message)
            return error.message
        }
    }

    @Test func colonWithoutSlashesIsAMissingScheme() throws {
        #expect(problem("https:app.example.com")?.contains("scheme") == true)
        #expect(!(try OriginPattern("https://a.example")).matches("https:a.example"))
    }

    @Test func malformedIPv6HostsAreReportedAndNeverMatch() throws {
        #expect(problem("http://[zz]")?.contains("host") == true)
        #expect(problem("http://[]")?.contains("host") == true)
        #expect(problem("http://[::1]x")?.contains("host") == true)
        #expect(try OriginPattern("http://[::ffff:1.2.3.4]").matches("http://[::FFFF:1.2.3.4]"))
        #expect(!(try OriginPattern("http://[::1]")).matches("http://[::1]x"))
    }

    @Test func wildcardWithABadPortOrIPv6SuffixIsReported() {
        #expect(problem("https://*.example.com:abc")?.contains("port") == true)
        #expect(problem("https://*.[::1]")?.contains("*") == true)
    }

    @Test func customSchemesHaveNoDefaultPort() throws {
        let p = try OriginPattern("capacitor://localhost:8080")
        #expect(p.description == "capacitor://localhost:8080")
        #expect(p.matches("capacitor://localhost:8080"))
        #expect(!p.matches("capacitor://localhost"))
    }

    @Test func wildcardDescriptionKeepsANonDefaultPort() throws {
        #expect(try OriginPattern("HTTPS://*.Example.com:8443").description == "https://*.example.com:8443")
        #expect(try OriginPattern("https://*.example.com:443").description == "https://*.example.com")
    }
}

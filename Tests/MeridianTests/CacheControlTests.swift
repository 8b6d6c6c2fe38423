import NIOHTTP1
import Testing

@testable import MeridianCache

@Suite struct CacheControlTests {
    @Test("RFC 9111 §5.2: directive names are case-insensitive, unknown directives ignored")
    func caseInsensitiveNames() {
        let control = CacheControl(["MAX-AGE=60, Public, X-Custom=1, Must-Revalidate, no-STORE"])
        #expect(control.maxAge == 60)
        #expect(control.isPublic)
        #expect(control.mustRevalidate)
        #expect(control.noStore)
        #expect(!control.hasInvalidFreshness)
    }

    @Test("RFC 9111 §5.2: arguments may be tokens or quoted strings")
    func quotedArguments() {
        let control = CacheControl(["max-age=\"30\", s-maxage=\"90\", stale-if-error=\"5\""])
        #expect(control.maxAge == 30)
        #expect(control.sharedMaxAge == 90)
        #expect(control.staleIfError == 5)
    }

    @Test("RFC 9111 §5.2.2.4, §5.2.2.7: commas inside a quoted field list do not split directives")
    func qualifiedFieldLists() {
        let control = CacheControl(["private=\"Set-Cookie, X-User\", no-cache=\"X-Debug\", max-age=10"])
        #expect(control.privateFields == ["set-cookie", "x-user"])
        #expect(control.noCacheFields == ["x-debug"])
        #expect(!control.isPrivate)
        #expect(!control.noCache)
        #expect(control.maxAge == 10)
    }

    @Test("RFC 9111 §5.2.2.4: unqualified no-cache and private are flags, token-form qualifiers are lists")
    func unqualifiedForms() {
        let control = CacheControl(["no-cache, private", "no-cache=x-a"])
        #expect(control.noCache)
        #expect(control.isPrivate)
        #expect(control.noCacheFields == ["x-a"])
        #expect(control.privateFields.isEmpty)
    }

    @Test("RFC 9110 §5.3: all field lines are parsed as one list")
    func multipleLines() {
        var headers = HTTPHeaders()
        headers.add(name: "Cache-Control", value: "public")
        headers.add(name: "cache-control", value: "max-age=5")
        let control = CacheControl(headers)
        #expect(control.isPublic)
        #expect(control.maxAge == 5)
    }

    @Test("RFC 9111 §4.2.1: conflicting max-age duplicates make freshness invalid, smallest kept")
    func conflictingDuplicates() {
        let control = CacheControl(["max-age=60", "max-age=10"])
        #expect(control.hasInvalidFreshness)
        #expect(control.maxAge == 10)
    }

    @Test("RFC 9111 §4.2.1: an identical duplicate is not a conflict")
    func identicalDuplicates() {
        let control = CacheControl(["max-age=60, max-age=\"60\""])
        #expect(!control.hasInvalidFreshness)
        #expect(control.maxAge == 60)
    }

    @Test(
        "RFC 9111 §4.2.1: a non-numeric, negative, fractional or missing max-age/s-maxage is invalid freshness",
        arguments: ["max-age=abc", "max-age=-1", "max-age=1.5", "max-age", "max-age=", "s-maxage=x", "max-age=5 6"]
    )
    func invalidFreshness(value: String) {
        let control = CacheControl([value])
        #expect(control.hasInvalidFreshness)
        #expect(control.maxAge == nil)
        #expect(control.sharedMaxAge == nil)
    }

    @Test("RFC 9111 §1.2.2: delta-seconds beyond 2^31 saturate at 2147483648")
    func overflow() {
        let control = CacheControl(["max-age=99999999999999999999999999, stale-while-revalidate=2147483649"])
        #expect(control.maxAge == 2_147_483_648)
        #expect(control.staleWhileRevalidate == 2_147_483_648)
        #expect(!control.hasInvalidFreshness)
    }

    @Test("RFC 9111 §5.2.1.2: max-stale without argument accepts any staleness, with one a bound")
    func maxStale() {
        #expect(CacheControl(["max-stale"]).maxStale == .any)
        #expect(CacheControl(["max-stale=30"]).maxStale == .seconds(30))
        #expect(CacheControl(["max-stale=soon"]).maxStale == nil)
    }

    @Test("RFC 9111 §5.2.1: request directives only-if-cached, min-fresh, no-transform")
    func requestDirectives() {
        let control = CacheControl(["only-if-cached, min-fresh=20, no-transform"])
        #expect(control.onlyIfCached)
        #expect(control.minFresh == 20)
        #expect(control.noTransform)
    }

    @Test("RFC 5861, RFC 8246, RFC 9111 §5.2.2: extension and response directives")
    func responseDirectives() {
        let control = CacheControl(
            ["immutable, stale-while-revalidate=30, stale-if-error=600, proxy-revalidate, must-understand"])
        #expect(control.immutable)
        #expect(control.staleWhileRevalidate == 30)
        #expect(control.staleIfError == 600)
        #expect(control.proxyRevalidate)
        #expect(control.mustUnderstand)
    }

    @Test("RFC 9111 §5.2: escaped quotes inside quoted strings")
    func escapedQuotes() {
        let control = CacheControl(["x-note=\"a \\\"quoted, thing\\\"\", max-age=7"])
        #expect(control.maxAge == 7)
        #expect(!control.hasInvalidFreshness)
    }

    @Test(
        "RFC 9111 §5.2.3: garbage never crashes and never invents directives",
        arguments: [
            "", ",,,", "=", "=5", "\"", "\"unterminated, max-age=5", "max-age=\"5", ";;;", "\u{0}\u{7F}ü",
            "no-cache=\"", "private=\"a,", "  ,  max-age  ", "max-age==5", "\\", "max-age=\"\\",
        ]
    )
    func garbage(value: String) {
        let control = CacheControl([value])
        #expect(control.maxAge == nil || control.maxAge == 5)
        #expect(!control.noStore)
        #expect(!control.isPublic)
    }

    @Test("RFC 9111 §5.2: an unterminated quote swallows the rest of the line")
    func unterminatedQuote() {
        let control = CacheControl(["x=\"open, no-store", "public"])
        #expect(!control.noStore)
        #expect(control.isPublic)
    }

    @Test("RFC 9111 §4.2.4: must-revalidate, proxy-revalidate, s-maxage and no-cache forbid serving stale")
    func forbidsStale() {
        #expect(CacheControl(["must-revalidate"]).forbidsStale)
        #expect(CacheControl(["proxy-revalidate"]).forbidsStale)
        #expect(CacheControl(["s-maxage=5"]).forbidsStale)
        #expect(CacheControl(["no-cache"]).forbidsStale)
        #expect(!CacheControl(["max-age=5, no-cache=\"x-a\""]).forbidsStale)
    }
}

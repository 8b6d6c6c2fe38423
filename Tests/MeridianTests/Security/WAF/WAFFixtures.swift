import MeridianSecurity

/// Requests and engines the WAF suites share.
///
/// Engines are built once per configuration and kept for the test process: loading the CRS
/// takes ~0.1 s of CPU, and one engine serving every test of a suite (concurrently, as Swift
/// Testing runs them) is also how Meridian uses it.
enum WAFFixtures {
    static let blockingPL1 = Result { try WAFEngine(configuration: .init(mode: .blocking, paranoiaLevel: 1)) }
    static let detectionPL1 = Result { try WAFEngine(configuration: .init(mode: .detection, paranoiaLevel: 1)) }

    static let firefoxUserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    static let chromeUserAgent =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

    /// What a browser sends for a page: Accept, Accept-Language, Accept-Encoding with br, a
    /// session cookie, a Referer.
    static func browserHeaders(userAgent: String = firefoxUserAgent) -> [(name: String, value: String)] {
        [
            ("Host", "www.example.com"),
            ("User-Agent", userAgent),
            ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
            ("Accept-Language", "en-US,en;q=0.9,de;q=0.8"),
            ("Accept-Encoding", "gzip, deflate, br"),
            ("Referer", "https://www.example.com/catalog?page=2&sort=name"),
            ("Cookie", "session_id=7f3a9c2e4b1d8f6a0c5e9b3d7a1f4c8e; consent=necessary%2Canalytics"),
            ("Connection", "keep-alive"),
            ("Upgrade-Insecure-Requests", "1"),
        ]
    }

    /// What Meridian's own test suite sends with curl: `curl -sS -H 'X-Request-ID: …' -H 'traceparent: …'`.
    static func curlHeaders(host: String = "localhost") -> [(name: String, value: String)] {
        [
            ("Host", host),
            ("User-Agent", "curl/8.5.0"),
            ("Accept", "*/*"),
            ("X-Request-ID", "0f8b6c1e-3a52-4d8e-9b7a-2c4e6f8a1b3d"),
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ]
    }

    static func request(
        _ uri: String,
        method: String = "GET",
        version: WAFRequest.HTTPVersion = .http1Dot1,
        headers: [(name: String, value: String)] = browserHeaders(),
        body: [UInt8]? = nil
    ) -> WAFRequest {
        WAFRequest(
            method: method, uri: uri, version: version, headers: headers, body: body,
            clientAddress: "198.51.100.23", clientPort: 40_512, serverAddress: "10.1.0.5", serverPort: 8443,
            requestID: "test-request-1")
    }

    /// A POST with a body: the headers plus Content-Type and Content-Length.
    static func post(
        _ uri: String, contentType: String, body: String,
        headers: [(name: String, value: String)] = browserHeaders()
    ) -> WAFRequest {
        let bytes = Array(body.utf8)
        return request(
            uri, method: "POST",
            headers: headers + [("Content-Type", contentType), ("Content-Length", "\(bytes.count)")],
            body: bytes)
    }
}

extension WAFVerdict {
    /// The matched ids in a CRS family: 942 → 942000...942999.
    func ids(inFamily family: Int) -> [Int] {
        matchedRuleIDs.filter { $0 / 1000 == family }
    }
}

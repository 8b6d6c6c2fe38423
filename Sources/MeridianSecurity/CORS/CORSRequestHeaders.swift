internal import MeridianConfig
internal import NIOHTTP1

/// The CORS request headers of one request, found in a single pass over the header block.
///
/// Four `first(name:)` look-ups would walk the headers four times; comparing lengths before
/// names keeps this to one walk with almost no byte comparisons.
struct CORSRequestHeaders {
    private(set) var origin: String?
    private(set) var originCount = 0
    private(set) var requestMethod: String?
    /// The first `Access-Control-Request-Headers` line; `requestHeadersCount` says whether there
    /// are more, which are rare enough to be found with a second walk.
    private(set) var requestHeaders: String?
    private(set) var requestHeadersCount = 0
    /// `Access-Control-Request-Private-Network: true` (WICG Private Network Access §3.4).
    private(set) var requestsPrivateNetwork = false

    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            switch name.utf8.count {
            case 6 where HTTPSyntax.equalsIgnoringCase(name, "origin"):
                if origin == nil { origin = value }
                originCount += 1
            case 29 where HTTPSyntax.equalsIgnoringCase(name, "access-control-request-method"):
                if requestMethod == nil { requestMethod = value }
            case 30 where Self.isRequestHeadersName(name):
                if requestHeaders == nil { requestHeaders = value }
                requestHeadersCount += 1
            case 38 where HTTPSyntax.equalsIgnoringCase(name, "access-control-request-private-network"):
                requestsPrivateNetwork = HTTPSyntax.equalsIgnoringCase(HTTPSyntax.trimmed(value[...]), "true")
            default:
                continue
            }
        }
    }

    static func isRequestHeadersName(_ name: String) -> Bool {
        HTTPSyntax.equalsIgnoringCase(name, "access-control-request-headers")
    }
}

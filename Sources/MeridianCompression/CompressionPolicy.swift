/// Decides whether a response is compressed on the fly, and with which coding.
///
/// Pure: it reads the status, the header fields, the method, whether the request asked for a range, the body
/// length and the client's ``AcceptEncoding``, and answers a ``CompressionDecision``; the caller creates the
/// ``StreamingCompressor`` and rewrites the headers with ``CompressionDecision/apply(to:status:)``.
///
/// The checks run in a fixed order, and the first that fails names the reason. Those about the representation
/// come first (status without content, already encoded, `no-transform`, media type, length): when one of them
/// fails, no request for this response would be compressed, so it needs no `Vary`. Those about the request come
/// last (range, `Accept-Encoding`): another request could get a compressed variant, so the response still
/// varies by `Accept-Encoding`.
public struct CompressionPolicy: Sendable {
    public var configuration: Configuration

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The decision for one response.
    ///
    /// The request method plays no part: a HEAD response gets the decision a GET would get, so that its header
    /// fields match (RFC 9110 §9.3.2), and the caller just has no body to encode.
    ///
    /// - Parameters:
    ///   - status: the response status code.
    ///   - headers: the response's header fields, names in any case.
    ///   - bodyLength: the body's length when known; nil for a stream, and then a `Content-Length` field is used
    ///     if there is one (a proxied response has one). For a 304, the length of the representation it validates,
    ///     or nil.
    ///   - acceptEncoding: the request's `Accept-Encoding`.
    ///   - requestHasRange: whether the request had a `Range` field.
    public func decide(
        status: Int,
        headers: [(name: String, value: String)],
        bodyLength: Int?,
        acceptEncoding: AcceptEncoding,
        requestHasRange: Bool
    ) -> CompressionDecision {
        let available = configuration.codings
        guard !available.isEmpty else { return .skip(.disabled) }
        guard !(100..<200).contains(status), status != 204, status != 205 else { return .skip(.noBody) }

        var contentType: String?
        var contentLength: Int?
        var hasContentRange = false
        for (name, value) in headers {
            if name.caseInsensitiveEquals("content-encoding") {
                let coding = value.trimmingOWS
                if !coding.isEmpty && !coding.caseInsensitiveEquals("identity") { return .skip(.alreadyEncoded) }
            } else if name.caseInsensitiveEquals("cache-control") {
                let directives = value.split(separator: ",")
                if directives.contains(where: { $0.trimmingOWS.caseInsensitiveEquals("no-transform") }) {
                    return .skip(.noTransform)
                }
            } else if name.caseInsensitiveEquals("content-type") {
                contentType = contentType ?? value
            } else if name.caseInsensitiveEquals("content-length") {
                contentLength = contentLength ?? Int(value.trimmingOWS)
            } else if name.caseInsensitiveEquals("content-range") {
                hasContentRange = true
            }
        }
        guard let contentType, isCompressible(contentType: contentType) else { return .skip(.contentType) }
        if let length = bodyLength ?? contentLength, length < configuration.minimumLength {
            return .skip(.tooSmall)
        }
        guard !requestHasRange, status != 206, !hasContentRange else { return .skip(.range) }
        guard let coding = acceptEncoding.negotiate(available: available), coding != .identity else {
            return .skip(.notAcceptable)
        }
        return .compress(coding)
    }

    /// Whether a response with this `Content-Type` is worth compressing.
    ///
    /// The most specific pattern that matches decides, between ``Configuration/contentTypes`` and
    /// ``Configuration/excludedContentTypes``; at equal specificity the exclusion wins. So `image/svg+xml` is
    /// compressed although `image/*` is excluded, and an operator who adds `*/*` still does not compress JPEGs.
    public func isCompressible(contentType: String) -> Bool {
        guard let mediaType = MediaTypePattern.mediaType(ofContentType: contentType) else { return false }
        let included = configuration.contentTypes.lazy.filter { $0.matches(mediaType) }.map(\.specificity).max()
        guard let included else { return false }
        let excluded = configuration.excludedContentTypes.lazy.filter { $0.matches(mediaType) }.map(\.specificity)
            .max()
        return excluded.map { included > $0 } ?? true
    }
}

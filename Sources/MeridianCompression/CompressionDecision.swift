/// What to do with one response: send it as a compressed variant, or as it is and why.
public enum CompressionDecision: Sendable, Hashable {
    /// The response is the variant encoded with this coding (never `.identity`): encode the body and rewrite the
    /// headers (``apply(to:status:)``).
    ///
    /// A HEAD response or a 304 (Not Modified) gets this decision too although it has no body: its header fields
    /// must be those of the GET or 200 response it stands for (RFC 9110 §9.3.2, §15.4.5), so the caller rewrites
    /// the headers and has nothing to encode.
    case compress(ContentCoding)
    /// The body goes out as it is.
    case skip(CompressionSkipReason)

    /// The coding to apply, or nil when the body goes out as it is.
    public var coding: ContentCoding? {
        if case .compress(let coding) = self { coding } else { nil }
    }

    /// Whether the response carries `Vary: Accept-Encoding`.
    ///
    /// It does whenever the representation could be compressed, including for a request that did not get a
    /// compressed variant: a cache that stored this identity response must not hand it to a client that a later
    /// request shows would have got gzip, and every response for one URL should name the same Vary fields
    /// (RFC 9110 §12.5.5).
    public var variesByAcceptEncoding: Bool {
        switch self {
        case .compress: true
        case .skip(let reason): reason.dependsOnRequest
        }
    }
}

/// Why a response goes out unencoded.
public enum CompressionSkipReason: Sendable, Hashable {
    /// No coding is enabled for this route.
    case disabled
    /// The status has no content: 1xx, 204 (No Content), 205 (Reset Content).
    case noBody
    /// The response already has a `Content-Encoding` (an upstream or a precompressed file encoded it).
    case alreadyEncoded
    /// `Cache-Control: no-transform` forbids changing the content (RFC 9111 §5.2.2.6, RFC 9110 §7.7).
    case noTransform
    /// The media type is not one to compress (images, audio, video, archives), or there is no `Content-Type`.
    case contentType
    /// The body is known to be shorter than the configured minimum: compressing it would save less than the
    /// header fields cost.
    case tooSmall
    /// The request asked for a byte range, or the response is one (206, `Content-Range`): ranges address the
    /// identity bytes, and a compressed stream cannot serve them.
    case range
    /// The client accepts none of the enabled codings (or sent no `Accept-Encoding`).
    case notAcceptable

    /// Whether another request for the same representation could have been compressed, so the response varies
    /// by the request's fields.
    var dependsOnRequest: Bool {
        switch self {
        case .range, .notAcceptable: true
        case .disabled, .noBody, .alreadyEncoded, .noTransform, .contentType, .tooSmall: false
        }
    }
}

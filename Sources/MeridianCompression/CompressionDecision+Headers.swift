extension CompressionDecision {
    /// Rewrites the response's header fields for the decision, the way nginx's gzip filter does.
    ///
    /// - `Vary: Accept-Encoding` when ``variesByAcceptEncoding``, merged into an existing `Vary` without
    ///   duplicates; a `Vary: *` already says everything.
    /// - For a compressed variant: `Content-Encoding` set; `Content-Length`, `Accept-Ranges` and the digests of
    ///   the identity bytes (`Content-Digest`, `Repr-Digest`, RFC 9530) removed, since the encoded length is not
    ///   known until the stream ends and a streamed encoding cannot serve byte ranges.
    /// - A strong `ETag` made weak (`"abc"` becomes `W/"abc"`). A strong validator promises byte-identical content
    ///   (RFC 9110 §8.8.1), which the gzip and identity variants are not, and gzip output can differ between
    ///   zlib versions and levels. Weakening keeps conditional requests working unchanged: `If-None-Match` uses
    ///   the weak comparison (RFC 9110 §13.1.2), so the static handler still answers 304 to a client revalidating
    ///   either variant. The alternative, a suffix (`"abc-gzip"`), is what Apache's mod_deflate did, and its 304s
    ///   broke for years (Apache bug 39727) because the handler that checks `If-None-Match` never sees the
    ///   suffixed tag. An `ETag` that is not a quoted string cannot be weakened and is removed, as nginx does.
    ///
    /// For a 304 only `Vary` and `ETag` change: it has no content, and it must carry the validator of the variant
    /// the client holds.
    public func apply(to headers: inout [(name: String, value: String)], status: Int) {
        if variesByAcceptEncoding {
            Self.addVaryAcceptEncoding(to: &headers)
        }
        guard case .compress(let coding) = self, coding != .identity else { return }
        Self.weakenETag(in: &headers)
        guard status != 304 else { return }
        headers.removeAll { field in
            Self.removedFromEncodedVariant.contains { field.name.caseInsensitiveEquals($0) }
        }
        headers.append((name: "Content-Encoding", value: coding.token))
    }

    /// Fields that describe the identity bytes, so are wrong for an encoded variant. A `Content-Encoding:
    /// identity` is among them: the encoded variant gets its own.
    private static let removedFromEncodedVariant = [
        "content-length", "accept-ranges", "content-encoding", "content-digest", "repr-digest",
    ]

    private static func addVaryAcceptEncoding(to headers: inout [(name: String, value: String)]) {
        var firstVary: Int?
        for index in headers.indices where headers[index].name.caseInsensitiveEquals("vary") {
            firstVary = firstVary ?? index
            for member in headers[index].value.split(separator: ",") {
                let member = member.trimmingOWS
                if member == "*" || member.caseInsensitiveEquals("accept-encoding") { return }
            }
        }
        guard let firstVary else {
            headers.append((name: "Vary", value: "Accept-Encoding"))
            return
        }
        let existing = headers[firstVary].value.trimmingOWS
        headers[firstVary].value = existing.isEmpty ? "Accept-Encoding" : "\(existing), Accept-Encoding"
    }

    private static func weakenETag(in headers: inout [(name: String, value: String)]) {
        headers.removeAll { field in
            guard field.name.caseInsensitiveEquals("etag") else { return false }
            let tag = field.value.trimmingOWS
            return !(tag.hasPrefix("W/") || tag.hasPrefix("\""))
        }
        for index in headers.indices where headers[index].name.caseInsensitiveEquals("etag") {
            let tag = headers[index].value.trimmingOWS
            if !tag.hasPrefix("W/") {
                headers[index].value = "W/" + tag
            }
        }
    }
}

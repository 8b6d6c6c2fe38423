internal import MeridianCore
internal import MeridianStatic
internal import NIOCore
internal import NIOHTTP1

/// A response made from a stored entry: the stored fields with a current `Age` and `Cache-Status`, or a 304 when the
/// client's validators match (RFC 9111 §4.3.2), or the requested range of the stored body (RFC 9110 §14).
enum CacheAnswer {
    static func serve(_ entry: CachedEntry, request: Request, now: Double, statuses: [CacheStatus]) -> Response {
        let metadata = entry.metadata
        let cacheStatus = CacheStatus.join(statuses)
        let age = metadata.ageHeaderValue(now: now)
        // The stored Date is the origin's (RFC 9110 §6.6.1); the writers add the sending time's: the age says the rest.
        if ClientConditional.notModified(requestHeaders: request.fields, entry: metadata) {
            var headers = ClientConditional.notModifiedHeaders(entry: metadata)
            headers.remove(name: "date")
            headers.replaceOrAdd(name: "age", value: age)
            headers.add(name: "cache-status", value: cacheStatus)
            return Response(status: .notModified, headers: headers)
        }
        var headers = metadata.headers
        headers.remove(name: "date")
        headers.replaceOrAdd(name: "age", value: age)
        headers.add(name: "cache-status", value: cacheStatus)
        let status = HTTPResponseStatus(statusCode: metadata.status)
        guard status == .ok, request.method == .GET, let range = request.fields.first(name: "range") else {
            return Response(status: status, headers: headers, body: .buffer(entry.body))
        }
        return ranged(entry, range: range, request: request, headers: headers)
    }

    /// Range from the stored full response; If-Range decides whether the range still applies (§13.1.5).
    private static func ranged(_ entry: CachedEntry, range: String, request: Request, headers: HTTPHeaders) -> Response {
        var headers = headers
        let size = entry.body.readableBytes
        let etag = entry.metadata.etag ?? ""
        let lastModified = entry.metadata.lastModified.flatMap { DateCache.parse($0) } ?? -1
        if let ifRange = request.fields.first(name: "if-range") {
            let allowed = !etag.isEmpty || lastModified >= 0
                ? ConditionalRequest.ifRangeAllows(ifRange, etag: etag, lastModified: lastModified) : false
            if !allowed { return Response(status: .ok, headers: headers, body: .buffer(entry.body)) }
        }
        headers.replaceOrAdd(name: "accept-ranges", value: "bytes")
        switch ByteRangeRequest.parse(range, size: size) {
        case .whole:
            return Response(status: .ok, headers: headers, body: .buffer(entry.body))
        case .unsatisfiable:
            var h = HTTPHeaders()
            h.add(name: "content-range", value: "bytes */\(size)")
            for name in ["cache-status", "age", "etag", "last-modified"] { for v in headers[name] { h.add(name: name, value: v) } }
            return Response(status: .rangeNotSatisfiable, headers: h)
        case .ranges(let ranges) where ranges.count == 1:
            let r = ranges[0]
            headers.replaceOrAdd(name: "content-range", value: "bytes \(r.lowerBound)-\(r.upperBound)/\(size)")
            let slice = entry.body.getSlice(at: entry.body.readerIndex + r.lowerBound, length: r.count) ?? ByteBuffer()
            return Response(status: .partialContent, headers: headers, body: .buffer(slice))
        case .ranges(let ranges):
            let boundary = "meridian-\(UInt64.random(in: .min ... .max))"
            let type = headers.first(name: "content-type")
            var parts: [ResponseBodyPart] = []
            for r in ranges {
                var partHead = "\r\n--\(boundary)\r\n"
                if let type { partHead += "content-type: \(type)\r\n" }
                partHead += "content-range: bytes \(r.lowerBound)-\(r.upperBound)/\(size)\r\n\r\n"
                parts.append(.buffer(ByteBuffer(string: partHead)))
                parts.append(.buffer(entry.body.getSlice(at: entry.body.readerIndex + r.lowerBound, length: r.count) ?? ByteBuffer()))
            }
            parts.append(.buffer(ByteBuffer(string: "\r\n--\(boundary)--\r\n")))
            headers.replaceOrAdd(name: "content-type", value: "multipart/byteranges; boundary=\(boundary)")
            return Response(status: .partialContent, headers: headers, body: .parts(parts))
        }
    }

    static func gatewayTimeout(statuses: [CacheStatus]) -> Response {
        var r = Response.text(.gatewayTimeout, "504 Gateway Timeout: only-if-cached and nothing usable is stored\n")
        r.headers.add(name: "cache-status", value: CacheStatus.join(statuses))
        return r
    }
}

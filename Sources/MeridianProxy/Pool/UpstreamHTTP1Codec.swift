internal import MeridianConfig
internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// HTTP/1.1 to an upstream in one handler: request parts out as bytes, response bytes in as parts.
/// It takes the place of NIO's `HTTPRequestEncoder` and `ByteToMessageHandler<HTTPResponseDecoder>`
/// (llhttp, a `String` built per callback, two handlers and an `NIOAny` per part on each side), which
/// were ~14% of the proxy's samples for a 1 KiB response (9% in, 5% out). Here: ~9.5% in (most of it the
/// three part fires into the connection handler), 2.6% out; the parts now pass between this codec and
/// ``UpstreamConnectionHandler`` as direct calls (``receiver``, ``send(_:promise:)``).
///
/// What it accepts is what RFC 9112 asks of a recipient, strictly, since an upstream that frames
/// badly is a 502, never passed on (smuggling goes both ways):
/// - a status line `HTTP/1.0` or `HTTP/1.1`, three digits, a reason (possibly empty);
/// - field lines `token ":" OWS value OWS`, lines ending in CRLF (a bare LF is taken, as llhttp
///   does); no whitespace before the colon, no obs-fold, no control characters in values; at most
///   ``maxHeadBytes`` of head and ``maxFields`` fields;
/// - framing (§6.3): no body for a HEAD request, 1xx, 204 and 304; `Transfer-Encoding` with
///   `chunked` last → chunked; `Transfer-Encoding` otherwise → to the close; `Content-Length` (one
///   value, or a list of equal ones) → that many bytes; none → to the close. Both
///   `Transfer-Encoding` and `Content-Length` → an error.
/// - 1xx other than 101 are dropped (the exchange answers `100 Continue` itself); after a 101 the
///   codec stops and hands every byte that followed to whatever replaces it.
/// Errors are `HTTPParserError`s, which the connection reports as `invalid_response`.
final class UpstreamHTTP1Codec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = IOData

    static let maxHeadBytes = EndpointPool.maxResponseHead
    static let maxFields = 200
    /// A chunk-size line with its extensions.
    static let maxChunkLine = 4096

    private enum State {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        /// A 101 was passed on: the bytes that follow are another protocol's.
        case switched
        case failed
    }

    private var state = State.head
    private var buffer: ByteBuffer?
    /// Whether each request sent and not yet answered was a HEAD.
    private var heads = CircularBuffer<Bool>(initialCapacity: 2)
    /// The request being sent is chunked.
    private var chunkedRequest = false
    private var trailerFields: [(String, String)] = []
    /// The trailer section so far, bounded like a head (``maxHeadBytes``).
    private var trailerBytes = 0
    /// The channel closed (perhaps while a part was being handled): nothing more is parsed.
    private var inactive = false
    /// The connection's handler, next in the pipeline: response parts go to it as direct calls, and it sends
    /// request parts with ``send(_:promise:)``, so no part is boxed in an `NIOAny` or walks the pipeline (the
    /// fires were most of the codec's inbound cost). Nil: parts go through the pipeline (another handler follows).
    /// Dropped when the codec leaves the pipeline (after a 101).
    var receiver: UpstreamConnectionHandler?
    /// Leave out of a final response's head the fields the proxy would drop (hop-by-hop ones, those the request
    /// layer writes itself), reading the framing and connection ones into ``ResponseHeadFacts`` instead: no
    /// `String` is made for them and the exchange need not rebuild the head. Set for the proxy's connections.
    var filtersResponseFields = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    // MARK: - Requests out

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        send(unwrapOutboundIn(data), context: context, promise: promise)
    }

    /// Writes a request part from the handler (not flushed); fails the promise once the codec has left the pipeline.
    func send(_ part: HTTPClientRequestPart, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        send(part, context: context, promise: promise)
    }

    /// Writes a request head already encoded (``RequestRewriter/encodedUpstreamHead(for:target:endpoint:traceparent:allocator:)``),
    /// not flushed. `isHEAD` and `chunked` are what ``send(_:promise:)`` reads from a head part.
    func sendHead(_ bytes: ByteBuffer, isHEAD: Bool, chunked: Bool) {
        guard let context else { return }
        heads.append(isHEAD)
        chunkedRequest = chunked
        context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
    }

    private func send(_ part: HTTPClientRequestPart, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        switch part {
        case .head(let head):
            heads.append(head.method == .HEAD)
            chunkedRequest = Self.isChunked(head.headers)
            var out = context.channel.allocator.buffer(capacity: 256)
            out.writeString(head.method.rawValue)
            out.writeInteger(UInt8(ascii: " "))
            out.writeString(head.uri)
            out.writeStaticString(" HTTP/1.1\r\n")
            Self.writeFields(head.headers, into: &out)
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
        case .body(let body):
            guard chunkedRequest else {
                context.write(wrapOutboundOut(body), promise: promise)
                return
            }
            guard case .byteBuffer(let bytes) = body else {
                promise?.fail(ChannelError.operationUnsupported)
                return
            }
            guard bytes.readableBytes > 0 else {
                promise?.succeed(())  // an empty chunk would end the body
                return
            }
            var size = context.channel.allocator.buffer(capacity: 12)
            size.writeString(String(bytes.readableBytes, radix: 16))
            size.writeStaticString("\r\n")
            guard bytes.readableBytes > 1024 else {
                size.writeImmutableBuffer(bytes)
                size.writeStaticString("\r\n")
                context.write(wrapOutboundOut(.byteBuffer(size)), promise: promise)
                return
            }
            // A large piece is not copied: its size line, the piece, and the CRLF go as three writes (one writev).
            context.write(wrapOutboundOut(.byteBuffer(size)), promise: nil)
            context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
            context.write(wrapOutboundOut(.byteBuffer(Self.crlf)), promise: promise)
        case .end(let trailers):
            guard chunkedRequest else {
                // Nothing to send: the head's framing ended the request.
                if let promise { context.write(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: promise) }
                return
            }
            chunkedRequest = false
            var out = context.channel.allocator.buffer(capacity: 5)
            out.writeStaticString("0\r\n")
            Self.writeFields(trailers ?? [:], into: &out)
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
        }
    }

    private static let crlf = ByteBuffer(string: "\r\n")

    /// Every field as `name: value` lines, then the empty line that ends a head or a trailer section.
    private static func writeFields(_ fields: HTTPHeaders, into out: inout ByteBuffer) {
        for (name, value) in fields { out.writeFieldLine(name, value) }
        out.writeStaticString("\r\n")
    }

    /// `Transfer-Encoding` whose last coding is `chunked` (the request layer's rewriter sends it alone). One pass
    /// without allocating: this runs for every request sent upstream.
    static func isChunked(_ headers: HTTPHeaders) -> Bool {
        var chunked = false
        for (name, value) in headers where name.lowercasedASCIIEquals("transfer-encoding") {
            if let last = lastCodingIsChunked(value) { chunked = last }
        }
        return chunked
    }

    /// Whether the last coding a `Transfer-Encoding` value names is `chunked`; nil when it names none. Requests
    /// (``isChunked(_:)``) and responses (``ResponseHeadFacts``) read it the same way.
    static func lastCodingIsChunked(_ value: String) -> Bool? {
        var last: Substring.UTF8View?
        RequestRewriter.forEachToken(value) { last = $0 }
        return last.map { $0.equalsLowercase("chunked") }
    }

    // MARK: - Responses in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if case .failed = state { return }
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = bytes
        } else {
            buffer!.writeBuffer(&bytes)
        }
        if case .switched = state { return }  // kept for the handler that takes over
        do {
            try parse(context: context)
        } catch {
            state = .failed
            buffer = nil
            context.fireErrorCaught(error)
        }
        // Not holding on to a read buffer whose bytes are all handed on: NIO reuses it when it is the only holder.
        if buffer?.readableBytes == 0 { buffer = nil }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inactive = true
        switch state {
        case .untilClose:
            // The close ends a body that runs to it.
            state = .head
            emit(context, .end(nil))
        default:
            break
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        receiver = nil
        // After a 101: what came after it goes to the handler that took over.
        if case .switched = state, let rest = buffer, rest.readableBytes > 0 {
            buffer = nil
            context.fireChannelRead(NIOAny(rest))
        }
    }

    /// Hands a response part on: straight to the connection's handler, else down the pipeline.
    private func emit(_ context: ChannelHandlerContext, _ part: HTTPClientResponsePart) {
        if let receiver {
            receiver.received(part)
        } else {
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    private func parse(context: ChannelHandlerContext) throws {
        while !inactive, var input = buffer, input.readableBytes > 0 {
            switch state {
            case .head:
                guard let (head, consumed, facts) = try Self.parseHead(input, filtering: filtersResponseFields) else {
                    if input.readableBytes > Self.maxHeadBytes { throw HTTPParserError.headerOverflow }
                    return
                }
                input.moveReaderIndex(forwardBy: consumed)
                buffer = input
                let code = Int(head.status.code)
                if code < 200 && code != 101 {
                    continue  // an interim response: dropped
                }
                let isHead = heads.popFirst() ?? false
                if code == 101 {
                    state = .switched
                    emit(context, .head(head))
                    emit(context, .end(nil))
                    return
                }
                let framing = try facts.framing(bodiless: isHead || code == 204 || code == 304)
                if let receiver {
                    receiver.receivedHead(head, facts: facts)
                } else {
                    // Down a pipeline (the tests) the head carries its fields.
                    var head = head
                    if let encoded = facts.encodedFields { head.headers = Response.decodeFields(encoded) }
                    context.fireChannelRead(wrapInboundOut(.head(head)))
                }
                switch framing {
                case .none, .length(0):
                    state = .head
                    emit(context, .end(nil))
                case .length(let n):
                    state = .body(remaining: n)
                case .chunked:
                    state = .chunkSize
                case .untilClose:
                    state = .untilClose
                }
            case .body(let remaining):
                let n = min(remaining, input.readableBytes)
                let piece = input.readSlice(length: n)!
                buffer = input
                emit(context, .body(piece))
                if n == remaining {
                    state = .head
                    emit(context, .end(nil))
                } else {
                    state = .body(remaining: remaining - n)
                }
            case .untilClose:
                buffer = nil
                emit(context, .body(input))
            case .chunkSize:
                guard let line = try Self.line(input, limit: Self.maxChunkLine) else { return }
                let size = try Self.chunkSize(input.getSlice(at: input.readerIndex, length: line.length)!)
                input.moveReaderIndex(forwardBy: line.consumed)
                buffer = input
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, input.readableBytes)
                let piece = input.readSlice(length: n)!
                buffer = input
                emit(context, .body(piece))
                state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            case .chunkDataEnd:
                guard let line = try Self.line(input, limit: 2) else { return }
                guard line.length == 0 else { throw HTTPParserError.invalidChunkSize }
                input.moveReaderIndex(forwardBy: line.consumed)
                buffer = input
                state = .chunkSize
            case .trailers:
                guard let line = try Self.line(input, limit: Self.maxHeadBytes) else {
                    if input.readableBytes > Self.maxHeadBytes { throw HTTPParserError.headerOverflow }
                    return
                }
                let bytes = input.getSlice(at: input.readerIndex, length: line.length)!
                input.moveReaderIndex(forwardBy: line.consumed)
                buffer = input
                if line.length == 0 {
                    let trailers = trailerFields.isEmpty ? nil : HTTPHeaders(trailerFields)
                    trailerFields = []
                    trailerBytes = 0
                    state = .head
                    emit(context, .end(trailers))
                } else {
                    trailerBytes += line.consumed
                    guard trailerFields.count < Self.maxFields, trailerBytes <= Self.maxHeadBytes else { throw HTTPParserError.headerOverflow }
                    trailerFields.append(try Self.field(bytes))
                }
            case .switched, .failed:
                return
            }
        }
    }

    // MARK: - Parsing, pure

    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        case untilClose
    }

    /// How the body of a response with `headers` is delimited (RFC 9112 §6.3).
    static func framing(_ headers: HTTPHeaders, bodiless: Bool) throws -> Framing {
        try ResponseHeadFacts(headers).framing(bodiless: bodiless)
    }

    static func contentLength(_ text: Substring) -> Int? {
        var n = 0
        var digits = 0
        for b in text.utf8 {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            n = a
            digits += 1
        }
        return digits > 0 ? n : nil
    }

    /// The next line of `input`: its length without the line ending, and the bytes it takes with it;
    /// nil when its end has not arrived. Longer than `limit` → an error.
    static func line(_ input: ByteBuffer, limit: Int) throws -> (length: Int, consumed: Int)? {
        let found: Int? = input.withUnsafeReadableBytes { raw in ByteScan.first(UInt8(ascii: "\n"), in: raw) }
        guard let lf = found else {
            if input.readableBytes > limit + 2 { throw HTTPParserError.headerOverflow }
            return nil
        }
        var length = lf
        if length > 0 && input.getInteger(at: input.readerIndex + length - 1, as: UInt8.self) == UInt8(ascii: "\r") { length -= 1 }
        guard length <= limit else { throw HTTPParserError.headerOverflow }
        return (length, lf + 1)
    }

    /// A chunk-size line: hex digits, then optional extensions (`;…`, ignored).
    static func chunkSize(_ line: ByteBuffer) throws -> Int {
        var size = 0
        var digits = 0
        var sawExtension = false
        try line.withUnsafeReadableBytes { raw in
            for b in raw {
                if sawExtension { continue }
                let v: Int
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = Int(b - UInt8(ascii: "a")) + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = Int(b - UInt8(ascii: "A")) + 10
                case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                    guard digits > 0 else { throw HTTPParserError.invalidChunkSize }
                    sawExtension = true
                    continue
                default: throw HTTPParserError.invalidChunkSize
                }
                guard digits < 15 else { throw HTTPParserError.invalidChunkSize }  // < 2^60
                size = size << 4 | v
                digits += 1
            }
        }
        guard digits > 0 else { throw HTTPParserError.invalidChunkSize }
        return size
    }

    /// A whole response head at the start of `input` and the bytes it takes; nil until its end
    /// (an empty line) has arrived. The status line is checked as soon as it is whole, so an
    /// upstream that does not speak HTTP fails at once, not at its close.
    /// `filtering`: a final response's dropped fields are left out and its framing and connection fields read into
    /// the facts (``filtersResponseFields``); interim responses and 101s keep every field.
    static func parseHead(_ input: ByteBuffer, filtering: Bool = false) throws -> (HTTPResponseHead, Int, ResponseHeadFacts)? {
        var cursor = input
        guard let statusLine = try line(cursor, limit: maxHeadBytes) else {
            if input.readableBytes >= 8, !input.readableBytesView.prefix(7).elementsEqual("HTTP/1.".utf8) {
                throw HTTPParserError.invalidVersion
            }
            return nil
        }
        let (version, code, reason) = try statusLineParts(cursor.getSlice(at: cursor.readerIndex, length: statusLine.length)!)
        cursor.moveReaderIndex(forwardBy: statusLine.consumed)
        let fields: Fields?
        if filtering && code >= 200 {
            fields = try filteredFields(cursor)
        } else {
            fields = try allFields(cursor)
        }
        guard let fields else {
            if input.readableBytes > maxHeadBytes { throw HTTPParserError.headerOverflow }
            return nil
        }
        let consumed = statusLine.consumed + fields.consumed
        guard consumed <= maxHeadBytes + 4 else { throw HTTPParserError.headerOverflow }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: code, reasonPhrase: reason), headers: fields.headers)
        return (head, consumed, fields.facts ?? ResponseHeadFacts(fields.headers))
    }

    /// A head's field section: its fields (none when ``ResponseHeadFacts/encodedFields`` holds them), the bytes it
    /// took with its empty line, and the facts when the codec read them while parsing.
    private struct Fields {
        var headers: HTTPHeaders
        var consumed: Int
        var facts: ResponseHeadFacts?
    }

    /// Every field as it is (an interim response, a 101, an unfiltered connection); nil until the empty line came.
    private static func allFields(_ input: ByteBuffer) throws -> Fields? {
        var cursor = input
        var headers = HTTPHeaders()
        headers.reserveCapacity(16)  // growing 1, 2, 4, 8 was four allocations for a usual head
        var count = 0
        while true {
            guard let next = try line(cursor, limit: maxHeadBytes) else { return nil }
            if next.length == 0 {
                cursor.moveReaderIndex(forwardBy: next.consumed)
                return Fields(headers: headers, consumed: cursor.readerIndex - input.readerIndex, facts: nil)
            }
            guard count < maxFields else { throw HTTPParserError.headerOverflow }
            count += 1
            let (name, value) = try field(cursor.getSlice(at: cursor.readerIndex, length: next.length)!)
            headers.add(name: name, value: value)
            cursor.moveReaderIndex(forwardBy: next.consumed)
        }
    }

    /// A final head's fields filtered in one pass over its bytes: those the client does not get are left out, the
    /// framing and connection fields read into the facts, and the rest copied as `name: value\r\n` lines into
    /// ``ResponseHeadFacts/encodedFields`` (no `String` per field; the request layer copies the lines into the
    /// client's head). A `Connection` that names fields keeps every line and the field, decoded into `headers`, for
    /// the exchange to filter as before. Nil until the empty line came.
    private static func filteredFields(_ input: ByteBuffer) throws -> Fields? {
        var facts = ResponseHeadFacts.filtering()
        var encoded = ByteBuffer()
        // Room for the fields and what else came in this read: the exchange gathers a small body after them.
        let capacity = min(max(input.readableBytes, 512), 4096)
        let consumed: Int? = try input.withUnsafeReadableBytes { raw -> Int? in
            var start = 0
            var count = 0
            while true {
                let rest = UnsafeRawBufferPointer(rebasing: raw[start...])
                guard let lf = ByteScan.first(UInt8(ascii: "\n"), in: rest) else {
                    if rest.count > maxHeadBytes + 2 { throw HTTPParserError.headerOverflow }
                    return nil
                }
                let length = lf > 0 && rest[lf - 1] == UInt8(ascii: "\r") ? lf - 1 : lf
                guard length <= maxHeadBytes else { throw HTTPParserError.headerOverflow }
                if length == 0 { return start + lf + 1 }
                guard count < maxFields else { throw HTTPParserError.headerOverflow }
                count += 1
                let line = UnsafeRawBufferPointer(rebasing: rest[..<length])
                let (colon, valueStart, valueEnd) = try fieldBounds(line)
                let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
                let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
                switch RequestRewriter.responseFieldKind(name.assumingMemoryBound(to: UInt8.self)) {
                case .keep:
                    write(name, value, into: &encoded, capacity: capacity)
                case .drop:
                    break
                case .contentLength:
                    facts.contentLength(value)
                case .transferEncoding:
                    facts.transferEncoding(String(decoding: value, as: UTF8.self))
                case .connection:
                    // Kept when it names fields: the exchange removes those, reading their names from it.
                    if facts.connection(value) { write(name, value, into: &encoded, capacity: capacity) }
                }
                start += lf + 1
            }
        }
        guard let consumed else { return nil }
        guard facts.filtered else {
            return Fields(headers: Response.decodeFields(encoded), consumed: consumed, facts: facts)
        }
        facts.encodedFields = encoded
        return Fields(headers: [:], consumed: consumed, facts: facts)
    }

    private static func write(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, into out: inout ByteBuffer, capacity: Int) {
        if out.capacity == 0 { out = ByteBufferAllocator().buffer(capacity: capacity) }
        out.writeFieldLine(name, value)
    }

    /// `HTTP/1.x SP 3DIGIT [SP reason]`.
    static func statusLineParts(_ line: ByteBuffer) throws -> (HTTPVersion, Int, String) {
        try line.withUnsafeReadableBytes { try statusLineParts($0) }
    }

    private static func statusLineParts(_ bytes: UnsafeRawBufferPointer) throws -> (HTTPVersion, Int, String) {
        guard bytes.count >= 12, bytes[0..<7].elementsEqual("HTTP/1.".utf8), bytes[8] == UInt8(ascii: " ") else {
            throw HTTPParserError.invalidVersion
        }
        let version: HTTPVersion
        switch bytes[7] {
        case UInt8(ascii: "1"): version = .http1_1
        case UInt8(ascii: "0"): version = .http1_0
        default: throw HTTPParserError.invalidVersion
        }
        var code = 0
        for b in bytes[9..<12] {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { throw HTTPParserError.invalidStatus }
            code = code * 10 + Int(b - UInt8(ascii: "0"))
        }
        guard code >= 100 else { throw HTTPParserError.invalidStatus }
        if bytes.count == 12 { return (version, code, "") }
        guard bytes[12] == UInt8(ascii: " ") else { throw HTTPParserError.invalidStatus }
        let reason = UnsafeRawBufferPointer(rebasing: bytes[13...])
        for b in reason where (b < 0x20 && b != UInt8(ascii: "\t")) || b == 0x7F { throw HTTPParserError.invalidStatus }
        return (version, code, String(decoding: reason, as: UTF8.self))
    }

    /// `token ":" OWS value OWS`: no space before the colon, no obs-fold, no control characters.
    static func field(_ line: ByteBuffer) throws -> (String, String) {
        try line.withUnsafeReadableBytes { raw in
            let (colon, start, end) = try fieldBounds(raw)
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: raw[..<colon]), as: UTF8.self)
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<end]), as: UTF8.self)
            return (name, value)
        }
    }

    /// A field line checked (see ``field(_:)``): where its name ends and its value starts and ends.
    static func fieldBounds(_ raw: UnsafeRawBufferPointer) throws -> (colon: Int, start: Int, end: Int) {
        // One pass over the name finds the colon and checks the token (it was a search, then a second pass), and one
        // over the value checks its bytes; no slices (a raw subscript is a plain load in release builds).
        let count = raw.count
        var colon = 0
        while true {
            guard colon < count else { throw HTTPParserError.invalidHeaderToken }  // no colon
            let b = raw[colon]
            if b == UInt8(ascii: ":") { break }
            guard HeaderSyntax.isTokenByte(b) else { throw HTTPParserError.invalidHeaderToken }
            colon += 1
        }
        guard colon > 0 else { throw HTTPParserError.invalidHeaderToken }
        var start = colon + 1
        var end = count
        while start < end, raw[start] == UInt8(ascii: " ") || raw[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, raw[end - 1] == UInt8(ascii: " ") || raw[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        var i = start
        while i < end {
            let b = raw[i]
            if (b < 0x20 && b != UInt8(ascii: "\t")) || b == 0x7F { throw HTTPParserError.invalidCharactersUsed }
            i += 1
        }
        return (colon, start, end)
    }
}

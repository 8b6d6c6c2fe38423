internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// Where ``RequestRewriter`` writes the upstream request's fields: NIO's `HTTPHeaders` (``FieldListSink``) or the
/// bytes of an HTTP/1.1 head (``HeadBytesSink``). One field is `add`, or `begin`, pieces, `end` for a value made
/// of several (`X-Forwarded-For`, `Forwarded`, `Via`), so the bytes need no `String` joined first.
protocol UpstreamFieldSink {
    mutating func add(_ name: String, _ value: String)
    /// A field of the client's, as its bytes (``RequestFields/forEachField(_:)``).
    mutating func add(bytes name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer)
    /// A piece of a value, as bytes.
    mutating func append(bytes piece: UnsafeRawBufferPointer)
    mutating func begin(_ name: String)
    mutating func append(_ piece: String)
    /// `piece` as a token, or as a quoted-string when it is not one (RFC 9110 §5.6.4).
    mutating func appendQuotedIfNeeded(_ piece: String)
    mutating func end()
    /// Where the next field goes; ``rewind(to:)`` takes back the fields written after it.
    var mark: Int { get }
    mutating func rewind(to mark: Int)
}

struct FieldListSink: UpstreamFieldSink {
    var headers = HTTPHeaders()
    private var name = ""
    private var value = ""

    mutating func add(_ name: String, _ value: String) { headers.add(name: name, value: value) }
    mutating func add(bytes name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
    }
    mutating func append(bytes piece: UnsafeRawBufferPointer) { value += String(decoding: piece, as: UTF8.self) }
    mutating func begin(_ name: String) {
        self.name = name
        value = ""
    }
    mutating func append(_ piece: String) { value += piece }
    mutating func appendQuotedIfNeeded(_ piece: String) { value += RequestRewriter.quotedIfNeeded(piece) }
    mutating func end() { headers.add(name: name, value: value) }
    var mark: Int { headers.count }
    mutating func rewind(to mark: Int) {
        var kept = HTTPHeaders()
        for (name, value) in headers.prefix(mark) { kept.add(name: name, value: value) }
        headers = kept
    }
}

struct HeadBytesSink: UpstreamFieldSink {
    var out: ByteBuffer

    mutating func add(_ name: String, _ value: String) { out.writeFieldLine(name, value) }
    mutating func add(bytes name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) { out.writeFieldLine(name, value) }
    mutating func append(bytes piece: UnsafeRawBufferPointer) { out.writeBytes(piece) }
    mutating func begin(_ name: String) {
        out.writeString(name)
        out.writeStaticString(": ")
    }
    mutating func append(_ piece: String) { out.writeString(piece) }
    mutating func appendQuotedIfNeeded(_ piece: String) {
        if RequestRewriter.isToken(piece) {
            out.writeString(piece)
        } else {
            out.writeQuoted(piece)
        }
    }
    mutating func end() { out.writeStaticString("\r\n") }
    var mark: Int { out.writerIndex }
    mutating func rewind(to mark: Int) { out.moveWriterIndex(to: mark) }
}

internal import NIOCore
internal import NIOHTTP1

/// Writes an HTTP/1.1 status line and header section straight into a buffer: no intermediate
/// `HTTPResponseHead`, a cached `Date`, and pre-encoded status lines for the common codes.
enum HTTP1ResponseHead {
    /// Connection handling the head must announce.
    enum ConnectionToken { case none, close, keepAlive, upgrade }

    static func write(
        into buffer: inout ByteBuffer,
        status: HTTPResponseStatus,
        headers: HTTPHeaders,
        encodedFields: ByteBuffer? = nil,
        contentLength: Int?,
        connection: ConnectionToken,
        serverHeader: String,
        requestID: String?,
        chunked: Bool = false,
        date: String
    ) {
        if status.code < statusLines.count, let line = statusLines[Int(status.code)] {
            buffer.writeString(line)
        } else {
            buffer.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n")
        }
        // One capacity check per line (writeFieldLine), not one per piece.
        buffer.writeFieldLine("date", date)
        if !serverHeader.isEmpty { buffer.writeFieldLine("server", serverHeader) }
        if let requestID { buffer.writeFieldLine("x-request-id", requestID) }
        writeFields(headers, into: &buffer)
        if let encodedFields { buffer.writeImmutableBuffer(encodedFields) }
        if let contentLength {
            buffer.writeStaticString("content-length: ")
            writeDecimal(contentLength, into: &buffer)
            buffer.writeStaticString("\r\n")
        } else if chunked {
            buffer.writeStaticString("transfer-encoding: chunked\r\n")
        }
        switch connection {
        case .none: break
        case .close: buffer.writeStaticString("connection: close\r\n")
        case .keepAlive: buffer.writeStaticString("connection: keep-alive\r\n")
        case .upgrade: buffer.writeStaticString("connection: upgrade\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// A non-negative integer's decimal digits, written in place (no `String` made for them).
    static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        precondition(value >= 0)
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        let at = buffer.writerIndex
        buffer.writeRepeatingByte(UInt8(ascii: "0"), count: digits)
        var n = value
        for i in stride(from: digits - 1, through: 0, by: -1) {
            buffer.setInteger(UInt8(ascii: "0") + UInt8(n % 10), at: at + i)
            n /= 10
        }
    }

    /// `name: value` lines, leaving out the framing and connection fields: those are Meridian's to
    /// decide, never a responder's (in a head) nor an upstream's (in a trailer section).
    static func writeFields(_ fields: HTTPHeaders, into buffer: inout ByteBuffer) {
        for (name, value) in fields {
            if name.lowercasedASCIIEquals("content-length") || name.lowercasedASCIIEquals("transfer-encoding")
                || name.lowercasedASCIIEquals("connection")
            {
                continue
            }
            buffer.writeFieldLine(name, value)
        }
    }

    /// The status lines of the codes Meridian answers with, indexed by code (an array read, not a hash, per response).
    private static let statusLines: [String?] = {
        var lines = [String?](repeating: nil, count: 506)
        for code in [100, 200, 201, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 408, 412, 413, 414,
            416, 417, 431, 500, 501, 502, 503, 504, 505]
        {
            let status = HTTPResponseStatus(statusCode: code)
            lines[code] = "HTTP/1.1 \(code) \(status.reasonPhrase)\r\n"
        }
        return lines
    }()
}

public import NIOCore

extension ByteBuffer {
    /// Writes `name: value\r\n` with one capacity check and four copies into the buffer's memory, where a
    /// write per piece checks capacity and uniqueness four times (`perf`: those checks were ~2% of a proxied
    /// 1 KiB request, most of them in the heads written to the upstream and to the client).
    package mutating func writeFieldLine(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        let total = name.count + value.count + 4
        writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            var at = 0
            if name.count > 0 {
                out.baseAddress!.copyMemory(from: name.baseAddress!, byteCount: name.count)
                at = name.count
            }
            out[at] = UInt8(ascii: ":")
            out[at + 1] = UInt8(ascii: " ")
            at += 2
            if value.count > 0 {
                (out.baseAddress! + at).copyMemory(from: value.baseAddress!, byteCount: value.count)
                at += value.count
            }
            out[at] = UInt8(ascii: "\r")
            out[at + 1] = UInt8(ascii: "\n")
            return total
        }
    }

    /// The same for `String`s (their UTF-8 read in place: ``Swift/String/withUTF8Bytes(_:)``).
    package mutating func writeFieldLine(_ name: String, _ value: String) {
        name.withUTF8Bytes { n in value.withUTF8Bytes { v in writeFieldLine(n, v) } }
    }

    /// `value` as an RFC 9110 quoted-string (`"` and `\` escaped), with one capacity check: the bytes between
    /// escapes are copied as runs (a forwarded `host="example.com:8443"` has none).
    package mutating func writeQuoted(_ value: String) {
        value.withUTF8Bytes { writeQuoted($0) }
    }

    private mutating func writeQuoted(_ bytes: UnsafeRawBufferPointer) {
        var escapes = 0
        for b in bytes where b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { escapes += 1 }
        let total = bytes.count + escapes + 2
        writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            out[0] = UInt8(ascii: "\"")
            var at = 1
            if escapes == 0 {
                if bytes.count > 0 { (out.baseAddress! + 1).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
                at += bytes.count
            } else {
                for b in bytes {
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                        out[at] = UInt8(ascii: "\\")
                        at += 1
                    }
                    out[at] = b
                    at += 1
                }
            }
            out[at] = UInt8(ascii: "\"")
            return total
        }
    }
}

extension String {
    /// Calls `body` with the string's UTF-8, read in place where it is contiguous (native and small strings:
    /// `utf8.withContiguousStorageIfAvailable`), else through a native copy. `withUTF8` needs a `var` copy of every
    /// string, a retain and a release each: per field line of every head, on the request path.
    @inline(__always)
    package func withUTF8Bytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let result = try utf8.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) { return result }
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

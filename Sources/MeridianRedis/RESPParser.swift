internal import NIOCore

/// RESP2 replies parsed from a connection's bytes, in order: bytes in with ``feed(_:)``, whole replies out with
/// ``next()``. Pure; one per connection, on its event loop.
///
/// It replaced hiredis's `redisReader`, which copied every bulk string three times and more on its way to a
/// `ByteBuffer` (into the reader's growing `sds` buffer, into the reply object, into the buffer, plus a `memmove`
/// of the unread rest each time 1 KiB had been consumed): a 100 KiB L2 cache hit cost more CPU than proxying the
/// same response from the origin. Here a bulk string is copied once, into a buffer of its own (a slice of the
/// read buffer would keep all of it alive in the L1 cache, and stop NIO from reusing its receive buffer).
///
/// Resumable: the parser consumes a reply element by element (a status, an integer, a whole bulk string, an
/// array's header) and keeps the arrays it is inside on a stack, so a long array that arrives over many reads is
/// parsed once, not again from its start at every read. A bulk string under ``directBulk`` bytes waits whole (its
/// bytes are gathered, ``feed(_:)``); a larger one is copied into its own buffer as its bytes arrive.
///
/// Limits, for a server that is not Redis (or not well): arrays nest at most ``maxDepth`` deep and a reply holds
/// at most ``maxElements`` array elements in all, a bulk string is at most ``maxBulk`` bytes (Redis's own
/// `proto-max-bulk-len`), a status, error or integer line at most ``maxLine``. Anything else that is not RESP2
/// is an error (``RedisError/protocolError(_:)``), and the connection cannot be used after it.
struct RESPParser {
    static let maxDepth = 16
    static let maxElements = 1 << 20
    static let maxBulk = 512 << 20
    static let maxLine = 64 * 1024

    /// Bytes received and not yet parsed; nil when there are none (NIO can reuse its buffer).
    private var buffer: ByteBuffer?
    /// Whether `buffer` is the parser's own (gathering an element that spans reads), not a read NIO handed over.
    private var gathering = false
    /// The last gathering buffer, emptied, for the next element that spans reads. Allocated fresh each time, a
    /// 100 KiB reply's buffer (NIO rounds it up to 128 KiB: glibc's mmap threshold) was mapped, faulted in page by
    /// page and unmapped for every L2 cache hit of that size: 23% of the server's samples.
    private var spare: ByteBuffer?
    static let maxSpare = 1 << 20
    /// A large bulk string whose bytes are still arriving, copied into its own buffer as each read comes (instead
    /// of gathered with the reply and copied out of it at the end: one copy of a 100 KiB L2 cache hit, not two).
    private var partial: (bytes: ByteBuffer, remaining: Int)?
    /// Bulk strings at least this long that have not all arrived are read that way.
    static let directBulk = 16 * 1024
    /// The arrays the reply being parsed is inside, outermost first: the elements still to come, those so far.
    private var open: [(remaining: Int, items: [RedisValue])] = []
    /// Array elements announced so far in the reply being parsed.
    private var elements = 0

    mutating func feed(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        guard var current = buffer else {
            buffer = bytes  // the common case: the read is parsed where it is, no copy
            return
        }
        var bytes = bytes
        if !gathering {
            var own = spare ?? ByteBuffer()
            spare = nil
            own.clear()
            own.reserveCapacity(current.readableBytes + bytes.readableBytes)
            own.writeBuffer(&current)
            current = own
            gathering = true
        }
        buffer = nil  // (uniquely referenced while it grows)
        // Elements parsed from the front leave read bytes there: moved out once they are as many as the unread ones.
        if current.readerIndex > 0, current.readerIndex >= current.readableBytes { current.discardReadBytes() }
        current.writeBuffer(&bytes)
        buffer = current
    }

    /// The next whole reply, or nil when the bytes so far end inside one (what was parsed of it is kept).
    mutating func next() throws(RedisError) -> RedisValue? {
        while true {
            if partial != nil {
                guard let bulk = try continuePartial() else { return nil }
                if let reply = close(.bulk(bulk)) { return reply }
                continue
            }
            guard var input = buffer, let element = try Self.element(&input) else { return nil }
            consumed(input)
            switch element {
            case .value(let v):
                if let reply = close(v) { return reply }
            case .array(let count) where count == 0:
                if let reply = close(.array([])) { return reply }
            case .array(let count):
                guard open.count < Self.maxDepth else { throw .protocolError("arrays nested more than \(Self.maxDepth) deep") }
                elements += count
                guard elements <= Self.maxElements else { throw .protocolError("a reply of more than \(Self.maxElements) array elements") }
                var items: [RedisValue] = []
                items.reserveCapacity(min(count, 1024))
                open.append((count, items))
            case .bulkStarted(let length):
                // Its header is read; its bytes go into a buffer of their own as they arrive.
                // (Reserved up to 4 MiB at first: a length a broken server announces is not allocated before
                // its bytes come.)
                var bytes = ByteBuffer()
                bytes.reserveCapacity(min(length, 4 << 20))
                partial = (bytes, length)
            }
        }
    }

    /// `value` completes the arrays it closes, innermost first; the whole reply when it closes the outermost one
    /// (or is not inside one).
    private mutating func close(_ value: RedisValue) -> RedisValue? {
        var value = value
        while !open.isEmpty {
            let top = open.count - 1
            open[top].items.append(value)
            open[top].remaining -= 1
            guard open[top].remaining == 0 else { return nil }
            value = .array(open.removeLast().items)
        }
        elements = 0
        return value
    }

    /// Moves what has arrived of the large bulk string in progress into its buffer; the string once it is whole
    /// and its CRLF has been read.
    private mutating func continuePartial() throws(RedisError) -> ByteBuffer? {
        guard var (bytes, remaining) = partial, var input = buffer else { return nil }
        partial = nil  // (its buffer uniquely referenced while it is written)
        if remaining > 0 {
            let n = min(remaining, input.readableBytes)
            input.readWithUnsafeReadableBytes { raw in
                bytes.writeBytes(UnsafeRawBufferPointer(rebasing: raw.prefix(n)))
                return n
            }
            remaining -= n
        }
        guard remaining == 0, input.readableBytes >= 2 else {
            consumed(input)
            partial = (bytes, remaining)
            return nil
        }
        guard input.readInteger(as: UInt16.self) == Self.crlf else {
            throw .protocolError("bulk string of \(bytes.readableBytes) bytes not followed by CRLF")
        }
        consumed(input)
        return bytes
    }

    /// `input` is what is left after an element: kept, or, when all of it was parsed, let go (a gathering buffer
    /// is kept for the next time, if it is not too large).
    private mutating func consumed(_ input: ByteBuffer) {
        if input.readableBytes > 0 {
            buffer = input
            return
        }
        buffer = nil
        if gathering, input.capacity <= Self.maxSpare { spare = input }
        gathering = false
    }

    private enum Element {
        case value(RedisValue)
        /// An array's header: its elements follow (`*-1`, the null array, is a value).
        case array(Int)
        /// The header of a bulk string of at least ``directBulk`` bytes that have not all arrived.
        case bulkStarted(Int)
    }

    /// One element from the front of `input`, moving its reader index past it; nil (and `input` left anywhere)
    /// when the element has not all arrived.
    private static func element(_ input: inout ByteBuffer) throws(RedisError) -> Element? {
        guard let type = input.readInteger(as: UInt8.self) else { return nil }
        guard types.contains(type) else { throw .protocolError("unknown reply type byte 0x\(String(type, radix: 16))") }
        guard let line = try line(&input) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .value(.simple(String(buffer: line)))
        case UInt8(ascii: "-"):
            return .value(.error(String(buffer: line)))
        case UInt8(ascii: ":"):
            guard let n = integer(line) else { throw .protocolError("bad integer reply '\(printable(line))'") }
            return .value(.integer(n))
        case UInt8(ascii: "$"):
            guard let length = integer(line), length >= -1, length <= maxBulk else {
                throw .protocolError("bad bulk string length '\(printable(line))'")
            }
            if length == -1 { return .value(.null) }
            let n = Int(length)
            guard input.readableBytes >= n + 2 else { return n >= directBulk ? .bulkStarted(n) : nil }
            var bulk = ByteBuffer()
            if n > 0 {
                bulk.reserveCapacity(n)
                input.readWithUnsafeReadableBytes { raw in
                    bulk.writeBytes(UnsafeRawBufferPointer(rebasing: raw.prefix(n)))
                    return n
                }
            }
            guard input.readInteger(as: UInt16.self) == crlf else { throw .protocolError("bulk string of \(n) bytes not followed by CRLF") }
            return .value(.bulk(bulk))
        default:  // "*", the only other type in `types`
            guard let count = integer(line), count >= -1, count <= Int64(maxElements) else {
                throw .protocolError("bad array length '\(printable(line))'")
            }
            return count == -1 ? .value(.null) : .array(Int(count))
        }
    }

    private static let types: [UInt8] = Array("+-:$*".utf8)
    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))

    /// The rest of the line at the front of `input` (without its CRLF), moving past the CRLF; nil when the line
    /// has not all arrived.
    private static func line(_ input: inout ByteBuffer) throws(RedisError) -> ByteBuffer? {
        let view = input.readableBytesView
        guard let lf = view.prefix(maxLine + 2).firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > maxLine + 1 { throw .protocolError("a reply line longer than \(maxLine) bytes") }
            return nil
        }
        let length = lf - view.startIndex
        guard length >= 1, view[lf - 1] == UInt8(ascii: "\r") else { throw .protocolError("a reply line not ended by CRLF") }
        let line = input.readSlice(length: length - 1)!
        input.moveReaderIndex(forwardBy: 2)
        return line
    }

    /// A decimal integer (an optional `-`, then 1 to 19 digits, in Int64's range), or nil.
    private static func integer(_ line: ByteBuffer) -> Int64? {
        let view = line.readableBytesView
        var i = view.startIndex
        let negative = i < view.endIndex && view[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < view.endIndex else { return nil }
        var n: Int64 = 0
        while i < view.endIndex {
            let b = view[i]
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(b - UInt8(ascii: "0"))) : m.addingReportingOverflow(Int64(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            n = s
            i += 1
        }
        return n
    }

    /// A line for an error message: at most 64 bytes, control characters as `?`.
    private static func printable(_ line: ByteBuffer) -> String {
        String(decoding: line.readableBytesView.prefix(64).map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}

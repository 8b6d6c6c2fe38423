public import NIOCore
public import NIOHTTP1

/// A request's header fields, read the way `HTTPHeaders` reads them (names compared ignoring ASCII case, values in
/// the order received), over one of two stores:
///
/// - **lines**: an HTTP/1.1 head as the parser checked it, its field bytes copied once into one buffer with a table of
///   where each name and (trimmed) value lies. No `String` per name and value, no array of pairs: a field becomes a
///   `String` only when something asks for it, and code that copies fields on (the proxy's upstream head) copies
///   their bytes (``forEachField(_:)``).
/// - **decoded**: an `HTTPHeaders` (HTTP/2, whose HPACK decoder makes one; requests built in code and tests).
///
/// ``Request/headers`` gives an `HTTPHeaders` for either (decoded once, on first use); the request path's own reads
/// (keep-alive, `Expect`, Host, the request id, routing, the proxy, the access log) use this type, so a request none
/// of whose code needs `HTTPHeaders` never builds one.
public struct RequestFields: Sendable {
    // Two optional stored properties rather than an enum: reading a field then borrows the buffer in place, where
    // matching an enum's payload copied it (a retain and a release per lookup).
    /// The field bytes and, from `table` on, `count` entries of four `UInt32`s: name start and end, value start and
    /// end, as offsets from the buffer's reader index. Nil when the fields are `decoded`.
    let lines: ByteBuffer?
    let table: Int
    let lineCount: Int
    let decoded: HTTPHeaders?

    public init(_ headers: HTTPHeaders) {
        self.lines = nil
        self.table = 0
        self.lineCount = 0
        self.decoded = headers
    }

    init(lines: ByteBuffer, table: Int, count: Int) {
        self.lines = lines
        self.table = table
        self.lineCount = count
        self.decoded = nil
    }

    /// Whether the fields are kept as the bytes received (an HTTP/1.1 head), not decoded.
    public var isLines: Bool { lines != nil }

    /// The number of fields.
    public var count: Int { decoded?.count ?? lineCount }

    public var isEmpty: Bool { count == 0 }

    /// The fields as `HTTPHeaders` (made anew for lines: ``Request/headers`` keeps the one it makes).
    public var httpHeaders: HTTPHeaders {
        if let decoded { return decoded }
        var headers = HTTPHeaders()
        headers.reserveCapacity(count)
        forEachField { name, value in
            headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }
        return headers
    }

    /// Calls `body` with each field's name and value bytes, in order (valid only inside the call).
    public func forEachField(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        if let decoded {
            for (name, value) in decoded {
                var name = name
                var value = value
                try name.withUTF8 { n in
                    try value.withUTF8 { v in try body(UnsafeRawBufferPointer(n), UnsafeRawBufferPointer(v)) }
                }
            }
            return
        }
        let (table, count) = (self.table, lineCount)
        try lines?.withUnsafeReadableBytes { bytes in
            for i in 0..<count {
                let (ns, ne, vs, ve) = Self.entry(bytes, table, i)
                try body(
                    UnsafeRawBufferPointer(rebasing: bytes[ns..<ne]), UnsafeRawBufferPointer(rebasing: bytes[vs..<ve]))
            }
        }
    }

    /// The first value of the field `name` (any case), as `HTTPHeaders.first(name:)`.
    public func first(name: String) -> String? {
        if let decoded { return decoded.first(name: name) }
        var found: String?
        forEachValue(named: name) { value in
            found = String(decoding: value, as: UTF8.self)
            return false
        }
        return found
    }

    /// Every value of the field `name` (any case), in order, as `HTTPHeaders[name]`.
    public subscript(name: String) -> [String] {
        if let decoded { return decoded[name] }
        var values: [String] = []
        forEachValue(named: name) { value in
            values.append(String(decoding: value, as: UTF8.self))
            return true
        }
        return values
    }

    /// The field `name`'s values split at commas, each element trimmed of spaces and tabs (`Set-Cookie` not split),
    /// as `HTTPHeaders[canonicalForm:]` gives them.
    public subscript(canonicalForm name: String) -> [Substring] {
        if let decoded { return decoded[canonicalForm: name] }
        let values = self[name]
        if values.isEmpty { return [] }
        if name.lowercasedASCIIEquals("set-cookie") { return values.map { $0[...] } }
        return values.flatMap { value in
            value.split(separator: ",").map { element -> Substring in
                let u = element.utf8
                guard let first = u.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return Substring() }
                let last = u.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })!
                return Substring(u[first...last])
            }
        }
    }

    /// Whether a field `name` (any case) is present.
    public func contains(name: String) -> Bool {
        if let decoded { return decoded.contains(name: name) }
        var found = false
        forEachValue(named: name) { _ in
            found = true
            return false
        }
        return found
    }

    /// Calls `body` with the value bytes of each line named `name` (any case), in order, while it returns true.
    private func forEachValue(named name: String, _ body: (UnsafeRawBufferPointer) -> Bool) {
        let (table, count) = (self.table, lineCount)
        Self.withName(name) { wanted in
            lines?.withUnsafeReadableBytes { bytes in
                for i in 0..<count {
                    let (ns, ne, vs, ve) = Self.entry(bytes, table, i)
                    if Self.nameEquals(bytes, ns, ne, wanted), !body(UnsafeRawBufferPointer(rebasing: bytes[vs..<ve])) { return }
                }
            }
        }
    }

    // MARK: - The table

    @inline(__always)
    static func entry(_ bytes: UnsafeRawBufferPointer, _ table: Int, _ i: Int) -> (Int, Int, Int, Int) {
        let at = table + 16 * i
        return (
            Int(bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)),
            Int(bytes.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)),
            Int(bytes.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self)),
            Int(bytes.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self))
        )
    }

    @inline(__always)
    static func withName<R>(_ name: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = name.utf8.withContiguousStorageIfAvailable(body) { return r }
        return Array(name.utf8).withUnsafeBufferPointer(body)
    }

    /// The name at `start..<end` equals `wanted`, ASCII case aside (on both sides).
    @inline(__always)
    static func nameEquals(
        _ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ wanted: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        guard end - start == wanted.count else { return false }
        var i = 0
        while i < wanted.count {
            let a = bytes[start + i]
            let b = wanted[i]
            if a != b && asciiFolded(a) != asciiFolded(b) { return false }
            i += 1
        }
        return true
    }
}

extension RequestFields: Sequence {
    /// Each field as `(name, value)` Strings, as iterating `HTTPHeaders` gives them (a `String` pair per field read:
    /// copying code uses ``forEachField(_:)``).
    public struct Iterator: IteratorProtocol {
        let fields: RequestFields
        var index = 0
        var decoded: HTTPHeaders.Iterator?

        public mutating func next() -> (name: String, value: String)? {
            if fields.decoded != nil { return decoded?.next() }
            guard index < fields.lineCount, let lines = fields.lines else { return nil }
            defer { index += 1 }
            let (table, i) = (fields.table, index)
            return lines.withUnsafeReadableBytes { bytes in
                let (ns, ne, vs, ve) = RequestFields.entry(bytes, table, i)
                return (
                    String(decoding: UnsafeRawBufferPointer(rebasing: bytes[ns..<ne]), as: UTF8.self),
                    String(decoding: UnsafeRawBufferPointer(rebasing: bytes[vs..<ve]), as: UTF8.self)
                )
            }
        }
    }

    public func makeIterator() -> Iterator {
        Iterator(fields: self, decoded: decoded?.makeIterator())
    }

    public var underestimatedCount: Int { count }
}

/// Builds the lines store while the parser walks a head: the section's bytes are copied in whole, the table is
/// written behind them (sized by the section's line count, so the store is one allocation of the size it needs).
struct RequestFieldsBuilder {
    private var buffer: ByteBuffer
    private let table: Int
    private let capacity: Int
    private var count = 0

    /// `section`: the head's bytes from the first field line to the empty line; offsets given to ``add`` are into it.
    /// `maxCount`: the parser's field limit (the table is never larger: a head of many short lines is refused at the
    /// limit, and must not have a table for all its lines allocated first).
    init(section: UnsafeRawBufferPointer, allocator: ByteBufferAllocator, maxCount: Int = .max) {
        var lines = 0
        for b in section where b == 0x0A { lines += 1 }
        lines = min(lines, maxCount)
        buffer = allocator.buffer(capacity: section.count + 16 * lines)
        buffer.writeBytes(section)
        table = section.count
        capacity = lines
        buffer.writeRepeatingByte(0, count: 16 * lines)
    }

    mutating func add(name: Range<Int>, value: Range<Int>) {
        precondition(count < capacity, "more fields than lines")
        let at = buffer.readerIndex + table + 16 * count
        buffer.setInteger(UInt32(name.lowerBound), at: at, endianness: .host)
        buffer.setInteger(UInt32(name.upperBound), at: at + 4, endianness: .host)
        buffer.setInteger(UInt32(value.lowerBound), at: at + 8, endianness: .host)
        buffer.setInteger(UInt32(value.upperBound), at: at + 12, endianness: .host)
        count += 1
    }

    consuming func build() -> RequestFields {
        RequestFields(lines: buffer, table: table, count: count)
    }
}


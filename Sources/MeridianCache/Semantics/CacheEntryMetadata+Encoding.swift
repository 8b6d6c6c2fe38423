internal import NIOHTTP1

/// A compact binary form of the metadata, for an L2 (Redis) value next to the body.
///
/// Layout: `"MC"`, a version byte, then every property in declaration order. Integers are zigzag LEB128 varints,
/// doubles their IEEE 754 bits little-endian, strings a varint byte count and UTF-8, optionals a presence byte.
/// Header lines are kept in order, duplicates and original name case included. Decoding checks every length
/// against what is left and rejects trailing bytes, so a truncated or foreign value yields nil, never a crash.
extension CacheEntryMetadata {
    static let encodingMagic: [UInt8] = [UInt8(ascii: "M"), UInt8(ascii: "C"), 1]

    /// The metadata as bytes that `init?(decoding:)` reads back into an equal value.
    public func encoded() -> [UInt8] {
        var writer = MetadataWriter()
        writer.bytes.reserveCapacity(128 + headers.count * 32)
        writer.bytes.append(contentsOf: Self.encodingMagic)
        writer.int(status)
        writer.int(headers.count)
        for (name, value) in headers {
            writer.string(name)
            writer.string(value)
        }
        writer.double(requestTime)
        writer.double(responseTime)
        writer.double(correctedInitialAge)
        writer.double(freshnessLifetime)
        writer.bool(isHeuristic)
        writer.control(control)
        writer.strings(varyFields)
        writer.optionalString(etag)
        writer.optionalString(lastModified)
        writer.strings(tags)
        writer.optionalInt(bodyLength)
        return writer.bytes
    }

    /// Reads what `encoded()` wrote; nil when the bytes are not such a value (wrong magic or version, truncated,
    /// trailing bytes, invalid UTF-8).
    public init?(decoding bytes: [UInt8]) {
        var reader = MetadataReader(bytes: bytes)
        guard reader.take(Self.encodingMagic.count) == Self.encodingMagic[...],
            let status = reader.int(), let headerCount = reader.count()
        else { return nil }
        var headers = HTTPHeaders()
        headers.reserveCapacity(headerCount)
        for _ in 0..<headerCount {
            guard let name = reader.string(), let value = reader.string() else { return nil }
            headers.add(name: name, value: value)
        }
        guard let requestTime = reader.double(), let responseTime = reader.double(),
            let correctedInitialAge = reader.double(), let freshnessLifetime = reader.double(),
            let isHeuristic = reader.bool(), let control = reader.control(), let varyFields = reader.strings(),
            let etag = reader.optionalString(), let lastModified = reader.optionalString(),
            let tags = reader.strings(), let bodyLength = reader.optionalInt(), reader.isAtEnd
        else { return nil }
        self.init(
            status: status, headers: headers, requestTime: requestTime, responseTime: responseTime,
            correctedInitialAge: correctedInitialAge, freshnessLifetime: freshnessLifetime, isHeuristic: isHeuristic,
            control: control, varyFields: varyFields, etag: etag, lastModified: lastModified, tags: tags,
            bodyLength: bodyLength)
    }
}

/// The boolean directives of `CacheControl`, one bit each, in a fixed order (the order is the format).
private let controlFlags: [any WritableKeyPath<CacheControl, Bool> & Sendable] = [
    \.noStore, \.noCache, \.isPrivate, \.isPublic, \.mustRevalidate, \.proxyRevalidate, \.mustUnderstand,
    \.noTransform, \.immutable, \.onlyIfCached, \.hasInvalidFreshness,
]

/// The optional integer directives of `CacheControl`, in a fixed order.
private let controlNumbers: [any WritableKeyPath<CacheControl, Int?> & Sendable] = [
    \.maxAge, \.sharedMaxAge, \.staleWhileRevalidate, \.staleIfError, \.minFresh,
]

private struct MetadataWriter {
    var bytes: [UInt8] = []

    mutating func int(_ value: Int) {
        var zigzag = UInt64(bitPattern: Int64(value) << 1 ^ Int64(value) >> 63)
        while zigzag >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: zigzag) | 0x80)
            zigzag >>= 7
        }
        bytes.append(UInt8(zigzag))
    }

    mutating func double(_ value: Double) {
        var bits = value.bitPattern
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }

    mutating func bool(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    mutating func string(_ value: String) {
        int(value.utf8.count)
        bytes.append(contentsOf: value.utf8)
    }

    mutating func strings(_ values: [String]) {
        int(values.count)
        for value in values { string(value) }
    }

    mutating func optionalString(_ value: String?) {
        bool(value != nil)
        if let value { string(value) }
    }

    mutating func optionalInt(_ value: Int?) {
        bool(value != nil)
        if let value { int(value) }
    }

    mutating func control(_ control: CacheControl) {
        var flags = 0
        for (bit, path) in controlFlags.enumerated() where control[keyPath: path] { flags |= 1 << bit }
        int(flags)
        for path in controlNumbers { optionalInt(control[keyPath: path]) }
        switch control.maxStale {
        case nil: int(0)
        case .any: int(1)
        case .seconds(let seconds):
            int(2)
            int(seconds)
        }
        strings(control.noCacheFields)
        strings(control.privateFields)
    }
}

private struct MetadataReader {
    let bytes: [UInt8]
    var index = 0

    var isAtEnd: Bool { index == bytes.count }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, bytes.count - index >= count else { return nil }
        defer { index += count }
        return bytes[index..<index + count]
    }

    mutating func int() -> Int? {
        var zigzag: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            index += 1
            zigzag |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                let value = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
                return Int(exactly: value)
            }
            shift += 7
        }
        return nil
    }

    /// A non-negative count no larger than the bytes left (each element takes at least one byte).
    mutating func count() -> Int? {
        guard let count = int(), count >= 0, count <= bytes.count - index else { return nil }
        return count
    }

    mutating func double() -> Double? {
        guard let slice = take(8) else { return nil }
        var bits: UInt64 = 0
        for (shift, byte) in slice.enumerated() { bits |= UInt64(byte) << (8 * UInt64(shift)) }
        return Double(bitPattern: bits)
    }

    mutating func bool() -> Bool? {
        guard let slice = take(1), let byte = slice.first, byte <= 1 else { return nil }
        return byte == 1
    }

    mutating func string() -> String? {
        guard let length = count(), let slice = take(length) else { return nil }
        return slice.withUnsafeBufferPointer { bytes in
            // ASCII (every field name, nearly every value): decoding is exact, and the stdlib's specialized path.
            // `String(validating:)` on the slice went through the generic `_validate` and a metadata lookup per
            // string: 2.5% of an L2 hit's CPU (`perf`, bench/cache.sh's L2 case).
            if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            return String(validating: bytes, as: UTF8.self)
        }
    }

    mutating func strings() -> [String]? {
        guard let count = count() else { return nil }
        var values: [String] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            guard let value = string() else { return nil }
            values.append(value)
        }
        return values
    }

    mutating func optionalString() -> String?? {
        guard let present = bool() else { return nil }
        guard present else { return .some(nil) }
        guard let value = string() else { return nil }
        return .some(value)
    }

    mutating func optionalInt() -> Int?? {
        guard let present = bool() else { return nil }
        guard present else { return .some(nil) }
        guard let value = int() else { return nil }
        return .some(value)
    }

    mutating func control() -> CacheControl? {
        guard let flags = int() else { return nil }
        var control = CacheControl()
        for (bit, path) in controlFlags.enumerated() { control[keyPath: path] = flags & (1 << bit) != 0 }
        for path in controlNumbers {
            guard let value = optionalInt() else { return nil }
            control[keyPath: path] = value
        }
        switch int() {
        case 0: control.maxStale = nil
        case 1: control.maxStale = .any
        case 2:
            guard let seconds = int() else { return nil }
            control.maxStale = .seconds(seconds)
        default: return nil
        }
        guard let noCacheFields = strings(), let privateFields = strings() else { return nil }
        control.noCacheFields = noCacheFields
        control.privateFields = privateFields
        return control
    }
}

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Typed facts that actions add to a request's record, read by the access log, spans and
/// metrics: the upstream that answered and its timing, the cache status, the encoding, the
/// protocol upgraded to. A new kind is a new key type in the module that adds it; Core does not
/// change.
///
/// ```swift
/// enum CacheStatusAnnotation: RecordAnnotationKey { typealias Value = String; static let name = "cache" }
/// context.annotate(CacheStatusAnnotation.self, "HIT")
/// record.annotations[CacheStatusAnnotation.self]  // "HIT"
/// ```
public protocol RecordAnnotationKey {
    associatedtype Value: Sendable
    /// The field name the access log uses.
    static var name: String { get }
}

/// A small map from annotation key types to values; empty (and allocation-free) for most requests.
///
/// The subscript is inlinable so each key's call site is specialized: a proxied request sets about a dozen
/// annotations, and the unspecialized generic setter (metadata lookups for `Key.Value`, a closure for
/// `removeAll`) was ~5% of the proxy's samples under `wrk -c64`.
public struct RecordAnnotations: Sendable {
    @usableFromInline var entries: [(key: ObjectIdentifier, name: String, value: any Sendable)] = []
    /// A bit per key ever set (a key's bit from its metatype's address): a key whose bit is clear is not in `entries`,
    /// so the usual set, of a key not set before, does not search.
    @usableFromInline var present: UInt64 = 0

    public init() {}

    @inlinable
    public subscript<Key: RecordAnnotationKey>(_ key: Key.Type) -> Key.Value? {
        get {
            guard let i = index(of: ObjectIdentifier(key)) else { return nil }
            return entries[i].value as? Key.Value
        }
        set {
            if let i = index(of: ObjectIdentifier(key)) { entries.remove(at: i) }  // set again: it moves to the end
            guard let newValue else { return }
            if entries.capacity == 0 { entries.reserveCapacity(8) }
            present |= Self.bit(ObjectIdentifier(key))
            entries.append((ObjectIdentifier(key), Key.name, newValue))
        }
    }

    /// Where the entry of `id` is. Through the buffer's pointer: only the key is read (iterating the array, or reading
    /// `entries[i].key`, copied each whole entry, its name and boxed value included: ~2% of a proxied request).
    @usableFromInline
    func index(of id: ObjectIdentifier) -> Int? {
        guard present & Self.bit(id) != 0 else { return nil }
        return entries.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            for i in 0..<buffer.count where base[i].key == id { return i }
            return nil
        }
    }

    @usableFromInline
    static func bit(_ id: ObjectIdentifier) -> UInt64 { 1 << ((UInt(bitPattern: id) >> 4) & 63) }

    public var isEmpty: Bool { entries.isEmpty && events.isEmpty }

    /// What a trace shows at its moment, as span events (the access log has the annotations instead).
    public var events: [RecordEvent] = []

    /// Every annotation as (name, value), in the order they were added: for generic sinks such as
    /// the access log.
    public var all: [(name: String, value: any Sendable)] { entries.map { ($0.name, $0.value) } }
}

/// The protocol a request switched to (`websocket`); set by the request layer on upgrades.
public enum UpgradeAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "upgrade"
}

/// Something that happened during a request, at a point in time: a span event on the request's span.
public struct RecordEvent: Sendable {
    public enum Value: Sendable {
        case string(String)
        case int(Int)
        case strings([String])
    }
    public var name: String
    /// Nanoseconds since the epoch.
    public var time: UInt64
    public var attributes: [(name: String, value: Value)]

    public init(name: String, time: UInt64 = WallClock.nanoseconds(), attributes: [(name: String, value: Value)]) {
        self.name = name
        self.time = time
        self.attributes = attributes
    }
}

/// Wall time since the epoch, one reading for what is compared across processes (span event times, ticket-key
/// rotation times shared through Redis).
public enum WallClock {
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public static func milliseconds() -> Int64 { Int64(nanoseconds() / 1_000_000) }
}

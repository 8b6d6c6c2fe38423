public import NIOHTTP1

/// The W3C trace context of one request (https://www.w3.org/TR/trace-context/): its trace and span
/// ids, whether it is sampled, and — when sampled — what the telemetry module needs to record its
/// span when it ends.
///
/// Every request gets ids, sampled or not, so access-log lines always name a trace; only sampled
/// requests pay for a recorded span. A sampled request's span is recorded after it ends, and the
/// ids swift-otel gives it then (a new trace's id included) replace these in its log line and
/// exemplar: during the request, a sampled request's span id (and, for a new trace, its trace id)
/// is provisional.
public struct TraceContext: Sendable {
    public var traceIDHigh: UInt64
    public var traceIDLow: UInt64
    public var spanID: UInt64
    /// The caller's span id when the request carried a valid `traceparent`; 0 for a root span.
    public var parentSpanID: UInt64
    public var sampled: Bool
    /// The incoming `tracestate`, passed on unchanged.
    public var traceState: String?
    /// What the tracing implementation keeps for a sampled request until its span is recorded.
    public var span: (any AnyObject & Sendable)?

    public init(
        traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64, parentSpanID: UInt64 = 0, sampled: Bool,
        traceState: String? = nil, span: (any AnyObject & Sendable)? = nil
    ) {
        self.traceIDHigh = traceIDHigh
        self.traceIDLow = traceIDLow
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.sampled = sampled
        self.traceState = traceState
        self.span = span
    }

    public var traceIDHex: String { Self.hex(traceIDHigh) + Self.hex(traceIDLow) }
    public var spanIDHex: String { Self.hex(spanID) }
    public var parentSpanIDHex: String? { parentSpanID == 0 ? nil : Self.hex(parentSpanID) }

    /// The `traceparent` for a call made on behalf of this request by the span `spanID`
    /// (the request's own span, or a child such as an upstream call).
    public func traceparent(spanID: UInt64? = nil) -> String {
        "00-" + traceIDHex + "-" + Self.hex(spanID ?? self.spanID) + (sampled ? "-01" : "-00")
    }

    /// What a valid incoming `traceparent` says.
    public struct Parent: Sendable, Equatable {
        public var traceIDHigh: UInt64
        public var traceIDLow: UInt64
        public var spanID: UInt64
        public var sampled: Bool
    }

    /// Parses `traceparent` strictly as W3C Trace Context level 1 says: version 00 is exactly
    /// 55 characters; a higher version may append `-...`; version ff, all-zero ids, upper-case hex
    /// or any other deviation means "no parent" (the request starts a new trace).
    public static func parse(traceparent value: String) -> Parent? {
        var value = value
        return value.withUTF8 { b -> Parent? in
            guard b.count >= 55, b[2] == 0x2D, b[35] == 0x2D, b[52] == 0x2D else { return nil }
            guard let version = hexValue(b, 0, 2), version != 0xFF else { return nil }
            if version == 0 { guard b.count == 55 else { return nil } } else if b.count > 55, b[55] != 0x2D { return nil }
            guard let high = hexValue(b, 3, 16), let low = hexValue(b, 19, 16), let span = hexValue(b, 36, 16),
                  let flags = hexValue(b, 53, 2)
            else { return nil }
            guard high != 0 || low != 0, span != 0 else { return nil }
            return Parent(traceIDHigh: high, traceIDLow: low, spanID: span, sampled: flags & 1 == 1)
        }
    }

    private static func hexValue(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> UInt64? {
        var v: UInt64 = 0
        for i in start..<(start + count) {
            let c = b[i]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// 16 lower-case hex digits.
    public static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { out in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { d in
                for i in 0..<16 { out[i] = d[Int((value >> UInt64(60 - 4 * i)) & 0xF)] }
            }
            return 16
        }
    }

    /// Whether a `tracestate` value follows W3C Trace Context §3.3.1: at most 32 comma-separated
    /// `key=value` members (empty members allowed), keys `lcalpha *(lcalpha / digit / _-*/)` up
    /// to 256 characters or `tenant@system`, values up to 256 printable characters without `,`
    /// or `=` and not ending in a space; 512 characters in all (the length propagation must keep).
    public static func isValidTraceState(_ value: String) -> Bool {
        let utf8 = Array(value.utf8)
        guard utf8.count <= 512 else { return false }
        var members = 0
        for raw in utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            var m = raw[...]
            while let f = m.first, f == 0x20 || f == 0x09 { m = m.dropFirst() }
            while let l = m.last, l == 0x20 || l == 0x09 { m = m.dropLast() }
            if m.isEmpty { continue }
            members += 1
            guard members <= 32, let eq = m.firstIndex(of: UInt8(ascii: "=")) else { return false }
            let key = m[..<eq]
            let val = m[m.index(after: eq)...]
            guard isValidKey(key), !val.isEmpty, val.count <= 256, val.last != 0x20,
                  val.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "=") })
            else { return false }
        }
        return true
    }

    private static func isValidKey(_ key: ArraySlice<UInt8>) -> Bool {
        func simple(_ k: ArraySlice<UInt8>, first: (UInt8) -> Bool, max: Int) -> Bool {
            guard let f = k.first, first(f), k.count <= max else { return false }
            return k.dropFirst().allSatisfy { c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D || c == 0x2A || c == 0x2F
            }
        }
        let lower: (UInt8) -> Bool = { $0 >= 0x61 && $0 <= 0x7A }
        let lowerOrDigit: (UInt8) -> Bool = { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
        if let at = key.firstIndex(of: UInt8(ascii: "@")) {
            return simple(key[..<at], first: lowerOrDigit, max: 241) && simple(key[key.index(after: at)...], first: lower, max: 14)
        }
        return simple(key, first: lower, max: 256)
    }
}

/// Decides each request's trace context when its head is complete. Implemented by the telemetry
/// module; `nil` in a runtime means tracing is off.
public protocol RequestTracing: Sendable {
    func begin(_ fields: RequestFields, connection: ConnectionInfo) -> TraceContext
}

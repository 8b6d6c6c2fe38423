public import NIOCore
public import NIOHTTP1

/// The W3C trace context of one request (https://www.w3.org/TR/trace-context/): its trace and span
/// ids, whether it is sampled, and — when sampled — the live span the telemetry module ends.
///
/// Every request gets ids, sampled or not, so access-log lines and upstream `traceparent` headers
/// always name the trace; only sampled requests pay for a recorded span.
public struct TraceContext: Sendable {
    public var traceIDHigh: UInt64
    public var traceIDLow: UInt64
    public var spanID: UInt64
    /// The caller's span id when the request carried a valid `traceparent`; 0 for a root span.
    public var parentSpanID: UInt64
    public var sampled: Bool
    /// The incoming `tracestate`, passed on unchanged.
    public var traceState: String?
    /// The recording span of a sampled request (owned by the tracing implementation).
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

    /// Whether a `tracestate` value is safe to pass on: at most 512 bytes of visible ASCII
    /// (the list's members are not interpreted here).
    public static func isAcceptableTraceState(_ value: String) -> Bool {
        let utf8 = value.utf8
        return utf8.count <= 512 && utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }
}

/// Decides each request's trace context when its head is complete. Implemented by the telemetry
/// module; `nil` in a runtime means tracing is off.
public protocol RequestTracing: Sendable {
    func begin(_ head: HTTPRequestHead, connection: ConnectionInfo) -> TraceContext
}

public import NIOCore

/// A Redis reply (RESP2), as ``RESPParser`` reads it.
public enum RedisValue: Sendable, Equatable, CustomStringConvertible {
    /// `+OK`
    case simple(String)
    /// `-ERR ...`: the whole line, its first word being the error's kind (`MOVED`, `NOSCRIPT`, `WRONGPASS`).
    case error(String)
    case integer(Int64)
    case bulk(ByteBuffer)
    /// A nil bulk string or a nil array.
    case null
    case array([RedisValue])

    /// The text of a simple or bulk string (or of an integer).
    public var string: String? {
        switch self {
        case .simple(let s): return s
        case .bulk(let b): return String(buffer: b)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    public var int: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulk(let b): return Int64(String(buffer: b))
        case .simple(let s): return Int64(s)
        default: return nil
        }
    }

    public var array: [RedisValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool { self == .null }

    public var description: String {
        switch self {
        case .simple(let s): return s
        case .error(let e): return "(error) \(e)"
        case .integer(let i): return "(integer) \(i)"
        case .bulk(let b): return "\"\(String(buffer: b))\""
        case .null: return "(nil)"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// One argument of a command: text, bytes or a number, sent as a bulk string.
public enum RedisArgument: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case bytes(ByteBuffer)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .string(String(value)) }
    public init(_ value: some BinaryInteger) { self = .string(String(value)) }
    public init(_ value: String) { self = .string(value) }
    public init(_ value: ByteBuffer) { self = .bytes(value) }

    var utf8Count: Int {
        switch self {
        case .string(let s): return s.utf8.count
        case .bytes(let b): return b.readableBytes
        }
    }
}

/// What a command can fail with, besides a Redis error reply (which is a value, ``RedisValue/error(_:)``).
public enum RedisError: Error, Equatable, CustomStringConvertible {
    /// No connection now (Redis down, or reconnecting after a backoff): the caller answers locally.
    case unavailable(String)
    /// The reply did not come within the command's deadline.
    case timeout
    /// The connection closed with the command in flight: it may or may not have run.
    case connectionClosed
    /// The server's bytes are not RESP.
    case protocolError(String)
    /// The server answered the handshake (AUTH, SELECT, HELLO) with an error: a configuration mistake.
    case handshake(String)
    /// A cluster redirect loop, or a slot no node serves.
    case cluster(String)

    public var description: String {
        switch self {
        case .unavailable(let why): return "redis unavailable: \(why)"
        case .timeout: return "redis command timed out"
        case .connectionClosed: return "redis connection closed with the command in flight"
        case .protocolError(let why): return "redis protocol error: \(why)"
        case .handshake(let why): return "redis refused the connection setup: \(why)"
        case .cluster(let why): return "redis cluster: \(why)"
        }
    }
}

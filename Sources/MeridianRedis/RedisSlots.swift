/// Redis Cluster's key-to-slot mapping: CRC16 (XMODEM) of the key, or of its hash tag — the part between the first
/// `{` and the next `}`, when not empty — modulo 16384. Keys that share a tag share a slot, which is what lets one
/// script touch all the keys of one breaker or one limit.
public enum RedisHashSlot {
    public static let count = 16384

    public static func slot(of key: String) -> Int {
        var utf8 = Array(key.utf8)
        if let open = utf8.firstIndex(of: UInt8(ascii: "{")),
            let close = utf8[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            utf8 = Array(utf8[(open + 1)..<close])
        }
        return Int(crc16(utf8) & 0x3FFF)
    }

    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}

/// Which node serves each slot, from `CLUSTER SLOTS`.
struct RedisSlotMap: Sendable {
    /// Index into `nodes` per slot; -1 where no node is known.
    private var owners: [Int16]
    private(set) var nodes: [RedisNode]

    init() {
        owners = Array(repeating: -1, count: RedisHashSlot.count)
        nodes = []
    }

    var isEmpty: Bool { nodes.isEmpty }

    func node(for slot: Int) -> RedisNode? {
        let i = owners[slot]
        return i < 0 ? nil : nodes[Int(i)]
    }

    mutating func assign(_ slot: Int, to node: RedisNode) {
        owners[slot] = Int16(index(of: node))
    }

    private mutating func index(of node: RedisNode) -> Int {
        if let i = nodes.firstIndex(of: node) { return i }
        nodes.append(node)
        return nodes.count - 1
    }

    /// Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, ...], replicas...], ...]`. The master (first
    /// node of each range) serves it. An empty host means the node that answered (Redis 7 may send "").
    init?(clusterSlots reply: RedisValue, answeredBy: RedisNode) {
        guard let ranges = reply.array else { return nil }
        self.init()
        for range in ranges {
            guard let items = range.array, items.count >= 3, let start = items[0].int, let end = items[1].int,
                let master = items[2].array, master.count >= 2, let host = master[0].string, let port = master[1].int,
                start >= 0, end < RedisHashSlot.count, start <= end
            else { return nil }
            let node = RedisNode(host: host.isEmpty || host == "?" ? answeredBy.host : host, port: Int(port))
            let i = Int16(index(of: node))
            for slot in Int(start)...Int(end) { owners[slot] = i }
        }
    }
}

/// A `MOVED` or `ASK` error reply: `MOVED 3999 127.0.0.1:6381`.
struct RedisRedirect: Equatable {
    enum Kind { case moved, ask }
    var kind: Kind
    var slot: Int
    var node: RedisNode

    /// `answeredBy`: the node that sent it, for a redirect with an empty host (`MOVED 3999 :6381`, which Redis 7
    /// sends when it does not know its own address): the same host.
    init?(_ message: String, answeredBy: RedisNode? = nil) {
        let parts = message.split(separator: " ")
        guard parts.count == 3, let slot = Int(parts[1]) else { return nil }
        switch parts[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        guard let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]) else { return nil }
        var host = String(parts[2][..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty || host == "?" {
            guard let answeredBy else { return nil }
            host = answeredBy.host
        }
        self.slot = slot
        self.node = RedisNode(host: host, port: port)
    }
}

internal import Foundation

/// One purge, kept as a rule rather than carried out key by key (Varnish's bans): every entry stored before `time`
/// whose URL equals `value` (`url`), starts with it (`prefix`) or that carries the tag (`tag`) is gone. A rule reaches
/// every instance (Redis pub/sub, and a sorted set read every second for what a reconnecting subscriber missed), so a
/// purge empties every L1 and makes every L2 copy unusable, without listing Redis's keys.
public struct PurgeBan: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case url
        case prefix
        case tag
    }

    public var kind: Kind
    public var value: String
    /// Seconds since the epoch: Redis's clock when the purge went through Redis, this instance's otherwise.
    public var time: Double
    public var id: String

    public init(kind: Kind, value: String, time: Double, id: String) {
        self.kind = kind
        self.value = value
        self.time = time
        self.id = id
    }

    /// Whether an entry for `url` (`https://host/path?query`, normalised as in keys) with `tags` falls under it.
    public func matches(url: Substring, tags: [String]) -> Bool {
        switch kind {
        case .url: return url == value
        case .prefix: return url.hasPrefix(value)
        case .tag: return tags.contains(value)
        }
    }

    /// The form stored in Redis and published: `{"k":"tag","v":"product-42","id":"…","t":1733050000123}` (the script
    /// adds `t`, Redis's time in milliseconds).
    public init?(json: String) {
        guard let data = json.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let k = object["k"] as? String, let kind = Kind(rawValue: k), let value = object["v"] as? String,
            let id = object["id"] as? String, let t = (object["t"] as? NSNumber)?.doubleValue
        else { return nil }
        self.init(kind: kind, value: value, time: t / 1000, id: id)
    }
}

/// The URL part of a primary key (`GET https://host/p?q` → `https://host/p?q`): what purges match.
func purgeURL(ofPrimary primary: String) -> Substring {
    guard let space = primary.utf8.firstIndex(of: UInt8(ascii: " ")) else { return Substring(primary) }
    return primary[primary.utf8.index(after: space)...]
}

public import NIOCore
internal import MeridianCore

/// A stored response: its metadata (RFC 9111 freshness and the fields to send) and its whole body. Immutable, so the
/// event loops share one copy: a hit hands out the same `ByteBuffer` storage, copying nothing.
public final class CachedEntry: Sendable {
    public let metadata: CacheEntryMetadata
    public let body: ByteBuffer
    /// When it was stored (seconds since the epoch): by Redis's clock for an entry from L2 (purges compare it with
    /// the purge's time, also Redis's), by this instance's otherwise.
    public let storedAt: Double
    /// Where the lookup found it.
    public let tier: CacheTier

    public init(metadata: CacheEntryMetadata, body: ByteBuffer, storedAt: Double, tier: CacheTier) {
        self.metadata = metadata
        self.body = body
        self.storedAt = storedAt
        self.tier = tier
    }

    /// What L1 charges for it: the body, the header bytes and a fixed overhead for the bookkeeping.
    public var cost: Int {
        var bytes = body.readableBytes + 256
        for (name, value) in metadata.headers { bytes += name.utf8.count + value.utf8.count + 4 }
        return bytes
    }

    /// Whether the request can take this entry's content coding (a variant keyed `br` could hold an upstream's zstd).
    func isAcceptable(to request: Request) -> Bool {
        guard let coding = metadata.headers.first(name: "content-encoding") else { return true }
        return CacheKey.accepts(request.fields["accept-encoding"], coding: coding)
    }

    func moved(to tier: CacheTier) -> CachedEntry {
        CachedEntry(metadata: metadata, body: body, storedAt: storedAt, tier: tier)
    }
}

public enum CacheTier: String, Sendable {
    case l1 = "meridian-l1"
    case l2 = "meridian-l2"
}

/// What an L1 slot holds. A URL whose responses vary keeps a `vary` marker under its primary key (the request fields
/// that pick the variant) and one entry per variant under the variant's key; `pass` remembers for a while that the
/// URL's last response could not be stored (Varnish's hit-for-miss), so its requests are not queued behind each other.
public enum L1Slot: Sendable {
    case entry(CachedEntry)
    case vary([String])
    case pass
}

internal import Logging
public import MeridianConfig
public import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// The `proxy` action: sends the request to a cluster and streams the answer back. One per route;
/// the cluster (pools, balancer, breakers) is shared by every route that names it.
///
/// A class: every request's ``ProxyExchange`` keeps the route it runs on, and a reference is one retain where
/// this struct's copy was ~25 (its rewriter's strings and arrays, the retry policy's set, the cluster and observer).
public final class ProxyResponder: Responder {
    let cluster: UpstreamCluster
    let rewriter: RequestRewriter
    let retryPolicy: RetryPolicy
    let replayLimit: Int
    let hashSource: Configuration.Upstream.Balancing.HashOn?
    let observer: (any UpstreamObserver)?

    public init(
        _ action: Configuration.ProxyAction, cluster: UpstreamCluster, trustedProxies: [IPNetwork], viaName: String,
        observer: (any UpstreamObserver)? = nil
    ) throws {
        self.cluster = cluster
        self.observer = observer
        self.rewriter = try RequestRewriter(action, trustedProxies: trustedProxies, viaName: viaName.isEmpty ? "meridian" : viaName)
        let r = cluster.config.retries
        self.retryPolicy = RetryPolicy(
            maxRetries: r.max, retryOn: Set(r.on.compactMap(RetryPolicy.Condition.init(rawValue:))), perTryTimeout: r.perTryTimeout
        )
        self.replayLimit = r.replayBuffer
        self.hashSource = Configuration.Upstream.Balancing.hashingPolicies.contains(cluster.config.balancing.policy)
            ? cluster.config.balancing.hashOn : nil
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        guard let loop = cluster.loop(for: context.eventLoop) else {
            return .immediate(.text(.internalServerError, "500 Internal Server Error\n"))
        }
        let exchange = ProxyExchange(request: request, context: context, route: self, loop: loop, hash: hashKey(request))
        exchange.start()
        return .slot(exchange)
    }

    /// The key hashing policies hash: the client address, a header, or a cookie; nil when absent
    /// (the balancer then picks by weight at random).
    func hashKey(_ request: Request) -> UInt64? {
        switch hashSource {
        case nil: return nil
        case .clientIP:
            guard let ip = request.connection.remoteIP else { return nil }
            return StableHash.hash(ip)
        case .header(let name):
            return request.fields.first(name: name).map(StableHash.hash)
        case .cookie(let name):
            for header in request.fields["cookie"] {
                for pair in header.split(separator: ";") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { continue }
                    if kv[0].trimmingPrefixSpaces() == name { return StableHash.hash(String(kv[1])) }
                }
            }
            return nil
        }
    }
}

extension Substring {
    fileprivate func trimmingPrefixSpaces() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        return s
    }
}

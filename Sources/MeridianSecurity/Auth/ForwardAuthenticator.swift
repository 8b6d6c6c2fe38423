public import AsyncHTTPClient
internal import Crypto
internal import Foundation
public import MeridianConfig
public import MeridianCore
internal import MeridianProxy
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1

/// `forward`: an auth service decides (nginx `auth_request`, Traefik `forwardAuth`). The sub-request is a GET to
/// `url` carrying the chosen client headers and `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri` and `-For`; a 2xx
/// lets the request through with the chosen answer headers copied onto it, anything else is what the client gets
/// (a 401 with its challenge, a 302 to a login page, …), and an auth service that cannot be reached is 503.
///
/// The sub-request runs on the request's own event loop (a client on Meridian's event loop group, so no executor
/// hop), and answers are remembered for `cache_ttl` per credential: the SHA-256 of the copied headers' values.
public final class ForwardAuthenticator: RequestAuthenticator {
    let config: Configuration.Forward
    let client: HTTPClient
    let trustedProxies: [IPNetwork]
    let cache: NIOLockedValueBox<[SHA256Digest: (until: ContinuousClock.Instant, outcome: Cached)]>
    /// The most answers remembered; beyond it the cache starts over (a flood of distinct credentials costs no more).
    static let cacheCapacity = 10_000
    /// The most of a refusal's body passed on.
    static let maximumBody = 64 * 1024

    enum Cached: Sendable {
        case allowed(headers: [(String, String)])
        case denied(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer)
    }

    public init(_ config: Configuration.Forward, client: HTTPClient, trustedProxies: [IPNetwork]) {
        self.config = config
        self.client = client
        self.trustedProxies = trustedProxies
        self.cache = NIOLockedValueBox([:])
    }

    public var upstreamHeaders: [String] { config.responseHeaders }
    public var deniedResults: [String] { ["denied", "error"] }

    public func authenticate(_ request: Request, context: RequestContext) -> AuthCheck {
        let credential = credentialKey(request)
        let now = ContinuousClock.now
        if config.cacheTTL > .zero, let hit = cache.withLockedValue({ $0[credential] }), now < hit.until {
            return .now(outcome(hit.outcome))
        }
        let sub: HTTPClient.Request
        do {
            sub = try HTTPClient.Request(url: config.url, method: .GET, headers: subRequestHeaders(request))
        } catch {
            return .now(.denied(.text(.internalServerError, "forward auth: bad url\n"), result: "error"))
        }
        let (ttl, cache) = (config.cacheTTL, self.cache)
        let timeoutMilliseconds = config.timeout.components.seconds * 1000 + config.timeout.components.attoseconds / 1_000_000_000_000_000
        let future = client.execute(
            request: sub, eventLoop: .delegateAndChannel(on: context.eventLoop), deadline: .now() + .milliseconds(timeoutMilliseconds)
        ).map { [self] response -> AuthOutcome in
            let cached = classify(response)
            if ttl > .zero, Self.cacheable(cached) {
                cache.withLockedValue { c in
                    if c.count >= Self.cacheCapacity { c.removeAll(keepingCapacity: true) }
                    c[credential] = (ContinuousClock.now + ttl, cached)
                }
            }
            return outcome(cached)
        }.recover { error in
            context.logger.warning("forward auth failed", metadata: ["url": "\(self.config.url)", "error": "\(error)"])
            var r = Response.text(.serviceUnavailable, "authentication service unavailable\n")
            r.headers.add(name: "retry-after", value: "1")
            return .denied(r, result: "error")
        }
        return .later(future)
    }

    func subRequestHeaders(_ request: Request) -> HTTPHeaders {
        var h = HTTPHeaders()
        for name in config.requestHeaders {
            for value in request.fields[canonicalForm: name] { h.add(name: name, value: String(value)) }
        }
        h.add(name: "x-forwarded-method", value: request.method.rawValue)
        h.add(name: "x-forwarded-proto", value: request.connection.scheme)
        h.add(name: "x-forwarded-host", value: request.fields.first(name: "host") ?? request.host)
        h.add(name: "x-forwarded-uri", value: request.uri)
        if let client = ClientAddress.of(request, trustedProxies: trustedProxies) { h.add(name: "x-forwarded-for", value: client.text) }
        h.add(name: "x-request-id", value: request.id)
        return h
    }

    /// The cache key: what identifies the client to the auth service.
    func credentialKey(_ request: Request) -> SHA256Digest {
        var hasher = SHA256()
        for name in config.requestHeaders {
            for value in request.fields[canonicalForm: name] {
                hasher.update(data: Array(name.utf8) + [0] + Array(value.utf8) + [0])
            }
        }
        return hasher.finalize()
    }

    func classify(_ response: HTTPClient.Response) -> Cached {
        if (200..<300).contains(response.status.code) {
            var copied: [(String, String)] = []
            for name in config.responseHeaders {
                for value in response.headers[canonicalForm: name] { copied.append((name, String(value))) }
            }
            return .allowed(headers: copied)
        }
        var headers = HTTPHeaders()
        for (name, value) in response.headers where Self.passedBack(name) { headers.add(name: name, value: value) }
        var body = response.body ?? ByteBuffer()
        if body.readableBytes > Self.maximumBody { body = body.getSlice(at: body.readerIndex, length: Self.maximumBody) ?? ByteBuffer() }
        return .denied(status: response.status, headers: headers, body: body)
    }

    /// Only clear verdicts are remembered: allowed, 401, 403. A 302 to a login page or a 5xx is asked again.
    static func cacheable(_ c: Cached) -> Bool {
        switch c {
        case .allowed: return true
        case .denied(let status, _, _): return status == .unauthorized || status == .forbidden
        }
    }

    /// Connection-level and framing headers stay with the sub-request's own connection.
    static func passedBack(_ name: String) -> Bool {
        !["connection", "keep-alive", "transfer-encoding", "content-length", "date", "server", "upgrade", "proxy-connection", "te", "trailer"]
            .contains(name.lowercased())
    }

    func outcome(_ c: Cached) -> AuthOutcome {
        switch c {
        case .allowed(let headers):
            let identity = headers.first.map(\.1) ?? "forward"
            return .allowed(identity: identity, headers: headers)
        case .denied(let status, let headers, let body):
            return .denied(Response(status: status, headers: headers, body: .buffer(body)), result: "denied")
        }
    }
}

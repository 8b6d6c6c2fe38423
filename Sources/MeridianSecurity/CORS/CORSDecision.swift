public import NIOHTTP1

/// What to do with one request under a ``CORSPolicy``, decided without any I/O.
///
/// The server executes it: it answers preflights itself (Fetch §3.2.2: a preflight is the
/// gateway's business, and upstreams that never see `OPTIONS` cannot get it wrong) and
/// merges the headers of `.actual`/`.actualDisallowed` into the upstream's response with
/// ``CORSPolicy/apply(_:to:)``.
public enum CORSDecision: Sendable, Equatable {
    /// No `Origin` header: not a CORS request, pass it through untouched.
    case notCORS
    /// An allowed preflight: answer `204 No Content` with exactly these headers, without
    /// contacting the upstream.
    case preflight(HTTPHeaders)
    /// A refused preflight (origin, method or a requested header not allowed, or a malformed
    /// request): answer `403 Forbidden` with these headers, which are only `Vary`. The reason is
    /// for the access log; the browser is told nothing beyond the missing CORS headers (Fetch
    /// §4.9 "CORS-preflight fetch" treats any non-ok status as a network error).
    case preflightRejected(HTTPHeaders, reason: String)
    /// A cross-origin request from an allowed origin: forward it and add these headers to the
    /// response.
    case actual(HTTPHeaders)
    /// A cross-origin request from an origin that is not allowed: forward it (CORS only stops the
    /// page reading the answer; blocking is the job of authentication and CSRF defences) and add
    /// these headers, only `Vary: Origin`, so a shared cache never serves this answer to an
    /// allowed origin or the reverse (Fetch §3.2.5 "CORS protocol and HTTP caches").
    case actualDisallowed(HTTPHeaders)
}

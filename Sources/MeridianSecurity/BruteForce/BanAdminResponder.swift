internal import Foundation
public import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// `GET /auth/bans` (every ban in force, the cluster's with Redis) and `DELETE /auth/bans/:key` (lift one, on every
/// instance) on the admin listener. Keys are `ip:ADDRESS` or `user:AUTHENTICATOR:NAME`.
public struct BanAdminResponder: Responder {
    /// The guard of the running configuration (nil without `brute_force:`), read per request: a reload replaces it.
    let current: @Sendable () -> BruteForceGuard?

    public init(current: @escaping @Sendable () -> BruteForceGuard?) {
        self.current = current
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        guard let guardian = current() else {
            return .immediate(.text(.notFound, "404 Not Found: brute_force is not configured\n"))
        }
        let loop = context.eventLoop
        if let raw = context.parameter("key") {
            guard request.method == .DELETE else {
                return .immediate(.text(.methodNotAllowed, "405 Method Not Allowed: DELETE a ban to lift it\n", headers: ["allow": "DELETE"]))
            }
            let key = String(raw).removingPercentEncoding ?? String(raw)
            return .eventually(
                guardian.lift(key, on: loop).map { lifted in
                    lifted ? Response(status: .noContent) : .text(.notFound, "404 Not Found: \(key) is not banned\n")
                }
            )
        }
        guard request.method == .GET || request.method == .HEAD else {
            return .immediate(.text(.methodNotAllowed, "405 Method Not Allowed\n", headers: ["allow": "GET, HEAD"]))
        }
        return .eventually(
            guardian.bans(on: loop).map { bans in
                let list: [[String: Any]] = bans.map { ["key": $0.key, "remaining_seconds": Int(($0.remaining / .seconds(1)).rounded(.up))] }
                let data = (try? JSONSerialization.data(withJSONObject: ["bans": list], options: [.sortedKeys])) ?? Data("{}".utf8)
                var body = ByteBuffer(bytes: data)
                body.writeString("\n")
                return Response(status: .ok, headers: ["content-type": "application/json", "cache-control": "no-store"], body: .buffer(body))
            }
        )
    }
}

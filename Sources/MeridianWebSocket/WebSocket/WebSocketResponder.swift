internal import Foundation
public import MeridianConfig
public import MeridianCore
public import NIOCore
internal import NIOHTTP1

/// The `websocket` route action: checks the opening handshake (RFC 6455 §4.2.1 on HTTP/1.1, RFC 8441 §5 on
/// HTTP/2), negotiates permessage-deflate (RFC 7692), and switches the connection to a
/// ``WebSocketSession`` subscribed to the route's channel. What comes before it on the route (rate limits,
/// and authentication when it lands) runs on the handshake like on any request.
public struct WebSocketResponder: Responder {
    let action: Configuration.WebSocketAction
    let hub: ChannelHub
    let stats: ChannelStats.Route

    public init(_ action: Configuration.WebSocketAction, hub: ChannelHub, route: String) {
        self.action = action
        self.hub = hub
        self.stats = hub.stats.route(route, protocolName: "websocket")
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        switch Self.check(request, action: action) {
        case .failure(let refusal):
            return .immediate(refusal.response)
        case .success(let key):
            guard let channel = ChannelName.resolve(action.channel, context: context) else {
                return .immediate(ChannelName.badRequest)
            }
            var headers: HTTPHeaders = [:]
            if let key { headers.add(name: "sec-websocket-accept", value: WebSocketAccept.value(forKey: key)) }
            var agreement: PerMessageDeflateAgreement?
            if action.deflate {
                let policy = PerMessageDeflateAgreement.Policy(
                    enabled: true, serverNoContextTakeover: action.deflateNoContextTakeover, clientNoContextTakeover: false,
                    level: action.deflateLevel, serverMaxWindowBits: 15
                )
                agreement = PerMessageDeflateAgreement.negotiate(offers: request.headers["sec-websocket-extensions"], policy: policy)
                if let agreement { headers.add(name: "sec-websocket-extensions", value: agreement.responseHeader) }
            }
            let deflate = agreement
            let action = self.action
            let hub = self.hub
            let stats = self.stats
            let logger = context.logger
            let upgrade = ProtocolUpgrade(protocolName: "websocket") { stream in
                WebSocketSession.start(on: stream, action: action, channel: channel, hub: hub, stats: stats, deflate: deflate, logger: logger)
            }
            return .immediate(.switchingProtocols(upgrade, headers: headers))
        }
    }

    /// Why a handshake was refused, as the response that says so.
    struct Refusal: Error {
        var response: Response
    }

    /// The client's key (nil on HTTP/2, which has none), or the refusal.
    static func check(_ request: Request, action: Configuration.WebSocketAction) -> Result<String?, Refusal> {
        let isHTTP2 = request.version.major == 2
        guard request.asksToSwitch(to: "websocket") else {
            // A plain request to a WebSocket endpoint: say what it takes (RFC 9110 §15.5.22).
            return .failure(Refusal(response: .text(
                HTTPResponseStatus(statusCode: 426), "426 Upgrade Required: this is a WebSocket endpoint\n",
                headers: isHTTP2 ? ["sec-websocket-version": "13"] : ["upgrade": "websocket", "connection": "upgrade", "sec-websocket-version": "13"]
            )))
        }
        if !isHTTP2, request.method != .GET {
            return .failure(Refusal(response: .text(.methodNotAllowed, "405 Method Not Allowed: a WebSocket handshake is a GET\n", headers: ["allow": "GET"])))
        }
        // RFC 6455 §4.2.2: a version this server does not speak gets 426 with the versions it does.
        guard request.headers["sec-websocket-version"].first?.trimmingCharacters(in: .whitespaces) == "13" else {
            return .failure(Refusal(response: .text(
                HTTPResponseStatus(statusCode: 426), "426 Upgrade Required: WebSocket version 13 only\n", headers: ["sec-websocket-version": "13"]
            )))
        }
        if !action.origins.isEmpty {
            let origin = request.headers["origin"].first ?? request.headers["sec-websocket-origin"].first
            guard let origin, action.origins.contains(where: { $0.caseInsensitiveCompare(origin) == .orderedSame }) else {
                return .failure(Refusal(response: .text(.forbidden, "403 Forbidden: this origin may not open a WebSocket here\n")))
            }
        }
        if isHTTP2 { return .success(nil) }
        // The key is 16 random bytes in base64 (§4.1 item 7), given once.
        let keys = request.headers["sec-websocket-key"]
        guard keys.count == 1, let key = keys.first?.trimmingCharacters(in: .whitespaces),
            let decoded = Data(base64Encoded: key), decoded.count == 16
        else {
            return .failure(Refusal(response: .text(.badRequest, "400 Bad Request: Sec-WebSocket-Key must be 16 bytes in base64, given once\n")))
        }
        return .success(key)
    }
}

/// A channel name from a route: a route parameter or a fixed `=name`.
enum ChannelName {
    static let maxLength = 200

    static func resolve(_ spec: String, context: RequestContext) -> String? {
        let name: String
        if spec.hasPrefix("=") {
            name = String(spec.dropFirst())
        } else {
            guard let value = context.parameter(spec) else { return nil }
            name = String(value)
        }
        return isValid(name) ? name : nil
    }

    /// The answer to a request whose channel name ``resolve(_:context:)`` refused.
    static var badRequest: Response {
        .text(.badRequest, "400 Bad Request: the channel name is empty, too long or holds control characters\n")
    }

    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxLength && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}

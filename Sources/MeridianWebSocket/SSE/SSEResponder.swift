public import MeridianConfig
public import MeridianCore
public import NIOCore
internal import NIOHTTP1

/// The `sse` route action: a channel as server-sent events (`text/event-stream`, WHATWG HTML §9.2). Each
/// message is an event whose id is the channel's message id, so a browser that reconnects with
/// `Last-Event-ID` — to this instance or any other — gets what it missed from the channel's history first.
public struct SSEResponder: Responder {
    let action: Configuration.SSEAction
    let hub: ChannelHub
    let stats: ChannelStats.Route

    public init(_ action: Configuration.SSEAction, hub: ChannelHub, route: String) {
        self.action = action
        self.hub = hub
        self.stats = hub.stats.route(route, protocolName: "sse")
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        guard request.method == .GET || request.method == .HEAD else {
            return .immediate(.text(.methodNotAllowed, "405 Method Not Allowed\n", headers: ["allow": "GET, HEAD"]))
        }
        guard let channel = ChannelName.resolve(action.channel, context: context) else {
            return .immediate(ChannelName.badRequest)
        }
        let headers: HTTPHeaders = [
            "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
            // nginx in front would otherwise buffer the stream.
            "x-accel-buffering": "no",
        ]
        if request.isHead { return .immediate(Response(status: .ok, headers: headers)) }
        // An unparsable id resumes nothing (the client starts from now), as a fresh connection would.
        let resumeFrom = request.headers["last-event-id"].first.flatMap { ChannelMessageID($0.trimmingCharacters(in: .whitespaces)) }
        let action = self.action
        let hub = self.hub
        let stats = self.stats
        let gone = context.clientGone
        let body = BodyStream { eventLoop, write in
            SSESession(action: action, channel: channel, hub: hub, stats: stats, eventLoop: eventLoop, write: write)
                .run(resumingAfter: resumeFrom, clientGone: gone)
        }
        return .immediate(Response(status: .ok, headers: headers, body: .stream(body)))
    }
}

internal import Foundation
public import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// `POST /publish/:channel` on the admin listener: a backend pushes a message to every WebSocket and SSE
/// subscriber of the channel in the cluster without holding connections itself. The body is the message:
/// a text message unless the request says `Content-Type: application/octet-stream` (then binary); text must
/// be UTF-8. Answers the message's id and whether it went to the cluster or (Redis unreachable) this instance.
public struct ChannelPublishResponder: Responder {
    let hub: ChannelHub

    public init(hub: ChannelHub) {
        self.hub = hub
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        guard request.method == .POST else {
            return .immediate(.text(.methodNotAllowed, "405 Method Not Allowed: POST the message as the body\n", headers: ["allow": "POST"]))
        }
        guard let channel = ChannelName.resolve("channel", context: context) else {
            return .immediate(ChannelName.badRequest)
        }
        let binary = request.headers["content-type"].first?.lowercased().hasPrefix("application/octet-stream") == true
        let loop = context.eventLoop
        let hub = self.hub
        return .eventually(
            request.body.collect(upTo: hub.config.maxPublishBytes, on: loop).flatMap { body -> EventLoopFuture<Response> in
                if !binary, String(validating: body.readableBytesView, as: UTF8.self) == nil {
                    return loop.makeSucceededFuture(.text(
                        .badRequest, "400 Bad Request: a text message must be UTF-8; send binary with Content-Type: application/octet-stream\n"
                    ))
                }
                return hub.publish(channel, kind: binary ? .binary : .text, payload: body, on: loop).map { published in
                    let object: [String: Any] = [
                        "channel": channel, "id": published.id.description, "scope": published.cluster ? "cluster" : "instance",
                        "subscribers_here": hub.subscriberCount(channel),
                    ]
                    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
                    var out = ByteBuffer(bytes: data)
                    out.writeString("\n")
                    return Response(status: .accepted, headers: ["content-type": "application/json"], body: .buffer(out))
                }
            }.flatMapErrorThrowing { error in
                if let e = error as? RequestBodyError { return .text(e.status, "\(e.status.code) \(e.status.reasonPhrase): \(e)\n") }
                return .text(.internalServerError, "500 Internal Server Error: \(error)\n")
            }
        )
    }
}

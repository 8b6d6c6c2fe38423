internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// The request body's way upstream: read from the request layer's stream one piece at a time
/// (the next read waits while the upstream socket is full, so a slow upstream slows the client,
/// not the server's memory), with a copy kept for a retry while the body fits the replay buffer.
struct BodyPump {
    var replay: [ByteBuffer] = []
    var replayBytes = 0
    /// Everything read so far is in `replay` (or there is no body).
    var replayable = true
    /// The whole body has been read from the client.
    var ended = false
    var trailers: HTTPHeaders?
    /// A read is pending.
    var reading = false
}

extension ProxyExchange {
    var hasBody: Bool { request.body !== RequestBody.none && request.upgradeProtocol == nil }

    /// Whether the body can go again in full: none, or all of it read and kept.
    var bodyReplayable: Bool { !hasBody || (body.replayable && body.ended) }

    func startSendingBody() {
        guard let connection else { return }
        guard hasBody else {
            body.ended = true
            connection.sendEnd(nil)
            requestFullySent(at: headSentAt)
            return
        }
        for piece in body.replay { _ = connection.sendBody(piece) }
        if body.ended {
            connection.sendEnd(body.trailers)
            requestFullySent()
        } else {
            pumpNext()
        }
    }

    func pumpNext() {
        guard !body.reading, !body.ended, !finished, connection != nil, responseHead == nil else { return }
        body.reading = true
        request.body.read { [self] event in
            body.reading = false
            switch event {
            case .piece(let piece):
                if body.replayable {
                    if body.replayBytes + piece.readableBytes <= route.replayLimit {
                        body.replay.append(piece)
                        body.replayBytes += piece.readableBytes
                    } else {
                        body.replayable = false
                        body.replay = []
                        body.replayBytes = 0
                    }
                }
                guard let connection, responseHead == nil, !finished else { return }
                let written = connection.sendBody(piece)
                if connection.channel.isWritable {
                    pumpNext()
                } else {
                    written.whenComplete { [self] _ in pumpNext() }
                }
            case .end(let trailers):
                body.ended = true
                body.trailers = trailers
                guard let connection, responseHead == nil, !finished else { return }
                connection.sendEnd(trailers)
                requestFullySent()
            case .failure(let error):
                // The request layer answers a body error itself (413, 408, 400) or cuts the
                // response; the upstream request cannot be completed.
                if let c = connection {
                    connection = nil
                    c.close()
                    loop.pools[c.endpoint].release(c)
                }
                abandonOutcome()
                answer(failure: error)
                produced?.fail(error)
                produced = nil
                end()
            }
        }
    }
}

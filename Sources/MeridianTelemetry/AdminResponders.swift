internal import Foundation
public import MeridianCore
internal import NIOConcurrencyHelpers
public import NIOCore
internal import NIOHTTP1

extension Telemetry {
    /// The admin listener's telemetry routes: `/metrics`, `/status`, `/status.json`, `/status/events`.
    public func adminRoutes() -> [Router.Route] {
        var routes: [Router.Route] = []
        if config.metrics.enabled {
            routes.append(Router.Route(pattern: .exact("/metrics"), methods: [.GET, .HEAD], responder: MetricsResponder(telemetry: self)))
        }
        if config.status.enabled {
            let reporter = statusReporter
            routes.append(Router.Route(pattern: .exact("/status"), methods: [.GET, .HEAD], responder: StatusPageResponder()))
            routes.append(Router.Route(pattern: .exact("/status.json"), methods: [.GET, .HEAD], responder: StatusJSONResponder(reporter: reporter)))
            routes.append(Router.Route(pattern: .exact("/status/events"), methods: [.GET], responder: StatusEventsResponder(reporter: reporter)))
        }
        return routes
    }

    /// Starts the background work: recording sampled spans in batches on a thread of their own
    /// (when tracing is on) and the once-a-second status sampling on `eventLoop` (when the status
    /// page is on).
    public func startBackgroundWork(on eventLoop: any EventLoop) {
        var tasks: [RepeatedTask] = []
        if tracing != nil { observer.startFlushing() }
        if config.status.enabled {
            let reporter = statusReporter
            reporter.sample()
            tasks.append(eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in reporter.sample() })
        }
        statusTask.withLockedValue { $0 = tasks }
    }

    /// Stops the background work and records the sampled requests still waiting (on a thread of
    /// its own: it waits for the flusher).
    public func stopBackgroundWork() async {
        statusTask.withLockedValue {
            for t in $0 { t.cancel() }
            $0 = []
        }
        let observer = self.observer
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                observer.stopFlushing()
                done.resume()
            }
        }
    }
}

/// `/metrics`: Prometheus text, or OpenMetrics with exemplars when the scraper asks for it.
struct MetricsResponder: Responder {
    let telemetry: Telemetry

    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        let openMetrics = Exposition.prefersOpenMetrics(request.headers.first(name: "accept"))
        let body = telemetry.renderMetrics(openMetrics: openMetrics)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: openMetrics ? Exposition.openMetricsContentType : Exposition.textContentType)
        headers.add(name: "cache-control", value: "no-store")
        return .immediate(Response(status: .ok, headers: headers, body: .buffer(ByteBuffer(string: body))))
    }
}

struct StatusPageResponder: Responder {
    static let body = ByteBuffer(string: StatusPageHTML.document)

    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/html; charset=utf-8")
        headers.add(name: "cache-control", value: "no-store")
        // The page is self-contained: no script, style, font or image from anywhere else.
        headers.add(
            name: "content-security-policy",
            value: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'"
        )
        headers.add(name: "x-content-type-options", value: "nosniff")
        return .immediate(Response(status: .ok, headers: headers, body: .buffer(Self.body)))
    }
}

struct StatusJSONResponder: Responder {
    let reporter: StatusReporter

    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "cache-control", value: "no-store")
        return .immediate(Response(status: .ok, headers: headers, body: .buffer(ByteBuffer(string: reporter.json() + "\n"))))
    }
}

/// `/status/events`: the status document as server-sent events, one a second. A stream ends
/// after ten minutes (EventSource reconnects by itself) so no client holds a connection forever.
struct StatusEventsResponder: Responder {
    let reporter: StatusReporter
    static let maxEvents = 600

    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/event-stream; charset=utf-8")
        headers.add(name: "cache-control", value: "no-store")
        headers.add(name: "x-accel-buffering", value: "no")
        let reporter = self.reporter
        let body = BodyStream { eventLoop, write in
            let promise = eventLoop.makePromise(of: Void.self)
            let sender = EventSender(reporter: reporter, eventLoop: eventLoop, write: write, promise: promise)
            sender.send(first: true)
            return promise.futureResult
        }
        return .immediate(Response(status: .ok, headers: headers, body: .stream(body)))
    }

    final class EventSender: Sendable {
        let reporter: StatusReporter
        let eventLoop: any EventLoop
        let write: BodyStream.Write
        let promise: EventLoopPromise<Void>
        let sent = NIOLockedValueBox(0)

        init(reporter: StatusReporter, eventLoop: any EventLoop, write: @escaping BodyStream.Write, promise: EventLoopPromise<Void>) {
            self.reporter = reporter
            self.eventLoop = eventLoop
            self.write = write
            self.promise = promise
        }

        func send(first: Bool = false) {
            let n = sent.withLockedValue { n -> Int in
                n += 1
                return n
            }
            guard n <= StatusEventsResponder.maxEvents else {
                promise.succeed()
                return
            }
            var text = first ? "retry: 2000\n\n" : ""
            text += "event: status\ndata: " + reporter.latestJSON() + "\n\n"
            write(ByteBuffer(string: text)).whenComplete { result in
                switch result {
                case .success:
                    // A loop shutting down fails scheduled tasks instead of running them: end the
                    // body then too, so its promise is never dropped.
                    let next = self.eventLoop.scheduleTask(in: .seconds(1)) { self.send() }
                    next.futureResult.whenFailure { self.promise.fail($0) }
                case .failure(let error):
                    self.promise.fail(error)
                }
            }
        }
    }
}

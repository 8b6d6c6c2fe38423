/// `meridian proxy --from HOST:PORT --to URL...`: the configuration of a one-route reverse proxy,
/// as `caddy reverse-proxy` makes one. Every other setting keeps its default (health from passive
/// outlier detection, round robin, retries of safe requests).
public enum QuickProxy {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `from`: the listen address. `to`: `http://host:port` or `host:port`, at least one.
    public static func configuration(from: String, to: [String], environment: [String: String] = [:]) throws(Failure) -> Configuration {
        guard let listen = Configuration.Address(parsing: from) else {
            throw Failure(description: "--from '\(from)' is not an address; expected HOST:PORT like 0.0.0.0:8080 or :8080")
        }
        guard !to.isEmpty else { throw Failure(description: "give at least one --to URL, like --to http://127.0.0.1:9000") }
        var endpoints: [Configuration.Upstream.Endpoint] = []
        for url in to { endpoints.append(try endpoint(url)) }
        var config = (try? ConfigLoader.defaults(environment: environment)) ?? Configuration()
        config.listeners = [Configuration.Listener(name: "proxy", address: listen)]
        config.upstreams = [Configuration.Upstream(name: "backend", endpoints: endpoints)]
        config.hosts = [
            Configuration.Host(
                names: [], isDefault: true,
                routes: [Configuration.Route(match: .init(path: .prefix("/")), action: .proxy(.init(upstream: "backend")))]
            )
        ]
        return config
    }

    static func endpoint(_ url: String) throws(Failure) -> Configuration.Upstream.Endpoint {
        var rest = Substring(url)
        if rest.hasPrefix("https://") {
            throw Failure(description: "--to '\(url)': TLS to upstreams is not supported yet; use an http:// upstream")
        }
        if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else {
                throw Failure(description: "--to '\(url)': a path is not supported; give scheme, host and port only")
            }
            rest = rest[..<slash]
        }
        let withPort = rest.contains(":") && !rest.hasSuffix("]") ? String(rest) : "\(rest):80"
        guard let address = Configuration.Address(parsing: withPort), address.port > 0, UpstreamDecoder.isValidHost(address.host),
            !withPort.hasPrefix(":")
        else {
            throw Failure(description: "--to '\(url)' is not an upstream; expected http://HOST:PORT like http://127.0.0.1:9000")
        }
        return Configuration.Upstream.Endpoint(host: address.host, port: address.port)
    }
}

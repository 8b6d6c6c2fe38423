/// `meridian proxy --from HOST:PORT --to URL...`: the configuration of a one-route reverse proxy,
/// as `caddy reverse-proxy` makes one. Every other setting keeps its default (health from passive
/// outlier detection, round robin, retries of safe requests).
public enum QuickProxy {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `from`: the listen address. `to`: `http://host:port`, `https://host[:port]` (TLS, verified
    /// against the system's roots) or `host:port`, at least one, all with one scheme.
    public static func configuration(from: String, to: [String], environment: [String: String] = [:]) throws(Failure) -> Configuration {
        guard let listen = Configuration.Address(parsing: from) else {
            throw Failure(description: "--from '\(from)' is not an address; expected HOST:PORT like 0.0.0.0:8080 or :8080")
        }
        guard !to.isEmpty else { throw Failure(description: "give at least one --to URL, like --to http://127.0.0.1:9000") }
        var endpoints: [Configuration.Upstream.Endpoint] = []
        let secure = to.map { $0.hasPrefix("https://") }
        guard Set(secure).count == 1 else {
            throw Failure(description: "mix of http:// and https:// upstreams; give one scheme for every --to")
        }
        for url in to { endpoints.append(try endpoint(url)) }
        if secure[0], let ip = endpoints.first(where: { IPNetwork.parseAddress(Substring($0.host)) != nil }) {
            throw Failure(description: "--to https://\(ip.host):…: an IP address cannot be verified by name; use the name its certificate carries")
        }
        var config = (try? ConfigLoader.defaults(environment: environment)) ?? Configuration()
        config.listeners = [Configuration.Listener(name: "proxy", address: listen)]
        var upstream = Configuration.Upstream(name: "backend", endpoints: endpoints)
        if secure[0] { upstream.tls = .init() }  // system roots, SNI and verification by the host name
        config.upstreams = [upstream]
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
        var defaultPort = 80
        if rest.hasPrefix("https://") {
            rest = rest.dropFirst(8)
            defaultPort = 443
        } else if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
        }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else {
                throw Failure(description: "--to '\(url)': a path is not supported; give scheme, host and port only")
            }
            rest = rest[..<slash]
        }
        let withPort = rest.contains(":") && !rest.hasSuffix("]") ? String(rest) : "\(rest):\(defaultPort)"
        guard let address = Configuration.Address(parsing: withPort), address.port > 0, UpstreamDecoder.isValidHost(address.host),
            !withPort.hasPrefix(":")
        else {
            throw Failure(description: "--to '\(url)' is not an upstream; expected http://HOST:PORT like http://127.0.0.1:9000")
        }
        return Configuration.Upstream.Endpoint(host: address.host, port: address.port)
    }
}

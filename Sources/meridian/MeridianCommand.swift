import ArgumentParser
import Foundation
import Logging
import MeridianConfig
import MeridianServer

@main
struct MeridianCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian",
        abstract: "A clustered, observability-first web platform.",
        subcommands: [Serve.self, Proxy.self, Validate.self, Version.self, HashPassword.self, BenchRedis.self, BenchCacheEviction.self, BenchPasswordHash.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve with a configuration file, or ./public on 0.0.0.0:8080 without one."
    )

    @Option(name: .shortAndLong, help: "The configuration file (YAML).")
    var config: String?

    @Option(help: "Listen on HOST:PORT instead of the configured listeners.")
    var listen: String?

    @Option(help: "Admin listener (probes) on HOST:PORT.")
    var admin: String?

    @Option(help: "Document root for static routes that set none (defaults.root).")
    var root: String?

    @Option(help: "TLS certificate chain (PEM) for the listener; with --tls-key. HTTP/2 is offered by ALPN.")
    var tlsCert: String?

    @Option(help: "TLS private key (PEM) for --tls-cert.")
    var tlsKey: String?

    func run() async throws {
        var overrides = CommandLineOverrides(root: root)
        if let listen {
            guard let address = Configuration.Address(parsing: listen) else {
                throw ValidationError("--listen '\(listen)' is not an address; expected HOST:PORT like 0.0.0.0:8080")
            }
            overrides.listen = address
        }
        try applyAdminAndTLS(admin: admin, tlsCert: tlsCert, tlsKey: tlsKey, to: &overrides)
        let environment = ProcessInfo.processInfo.environment
        let configuration: Configuration
        do {
            configuration = try config.map { try ConfigLoader.load(file: $0, environment: environment) }
                ?? ConfigLoader.defaults(environment: environment)
        } catch {
            FileHandle.standardError.write(Data("meridian: configuration is not valid:\n\(error)\n".utf8))
            throw ExitCode(1)
        }
        try await runApplication(configuration, configPath: config, overrides: overrides, environment: environment)
    }
}

struct Proxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A reverse proxy with no configuration file: listen on --from, send every request to the --to upstreams.",
        discussion: "Example: meridian proxy --from :8080 --to http://127.0.0.1:9000 --to http://127.0.0.1:9001"
    )

    @Option(help: "Listen on HOST:PORT (:PORT for every interface).")
    var from: String

    @Option(help: "An upstream, http://HOST:PORT or https://HOST[:PORT] (verified with the system roots); repeat for more.")
    var to: [String] = []

    @Option(help: "Admin listener (probes, /metrics, /status) on HOST:PORT.")
    var admin: String?

    @Option(help: "TLS certificate chain (PEM) for the listener; with --tls-key. HTTP/2 is offered by ALPN.")
    var tlsCert: String?

    @Option(help: "TLS private key (PEM) for --tls-cert.")
    var tlsKey: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration: Configuration
        do {
            configuration = try QuickProxy.configuration(from: from, to: to, environment: environment)
        } catch {
            throw ValidationError(error.description)
        }
        var overrides = CommandLineOverrides()
        try applyAdminAndTLS(admin: admin, tlsCert: tlsCert, tlsKey: tlsKey, to: &overrides)
        try await runApplication(configuration, configPath: nil, overrides: overrides, environment: environment)
    }
}

/// `--admin` and `--tls-cert`/`--tls-key`, as `serve` and `proxy` both take them.
func applyAdminAndTLS(admin: String?, tlsCert: String?, tlsKey: String?, to overrides: inout CommandLineOverrides) throws {
    if let admin {
        guard let address = Configuration.Address(parsing: admin) else {
            throw ValidationError("--admin '\(admin)' is not an address; expected HOST:PORT like 127.0.0.1:9901")
        }
        overrides.admin = address
    }
    switch (tlsCert, tlsKey) {
    case (let cert?, let key?): overrides.tlsCertificate = .init(cert: cert, key: key)
    case (nil, nil): break
    default: throw ValidationError("--tls-cert and --tls-key go together; give both PEM files")
    }
}

/// Logging as the configuration says, then the instance, until a signal ends it.
func runApplication(
    _ configuration: Configuration, configPath: String?, overrides: CommandLineOverrides, environment: [String: String]
) async throws {
    let format: JSONLogHandler.Format = configuration.logging.format == .json ? .json : .text
    LoggingSystem.bootstrap { label in JSONLogHandler(label: label, format: format) }
    var logger = Logger(label: "meridian")
    logger.logLevel = Logger.Level(configuration.logging.level)
    if !Allocator.tcmallocServesMalloc() {
        logger.notice("malloc is not tcmalloc: another allocator was loaded ahead of it (LD_PRELOAD?); running on that one")
    }
    do {
        let app = try MeridianApplication(
            configuration: configuration, configPath: configPath, overrides: overrides, environment: environment, logger: logger
        )
        try await app.run()
    } catch {
        logger.critical("meridian could not start", metadata: ["error": "\(error)"])
        throw ExitCode(1)
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file, like nginx -t: exit 0 when valid, 1 with every error otherwise."
    )

    @Argument(help: "The configuration file to check.")
    var file: String

    func run() throws {
        do {
            _ = try ConfigLoader.load(file: file, environment: ProcessInfo.processInfo.environment)
            print("\(file): configuration ok")
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            FileHandle.standardError.write(Data("\(file): configuration has \(error.diagnostics.count) error(s)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("meridian \(MeridianVersion.string)")
    }
}

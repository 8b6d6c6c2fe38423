import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn(3).
///
/// Foundation's `Process.run()` on Linux is not fit for a test process with hundreds of open
/// descriptors and parallel tests: it scans /proc/self/fd copying whole `dirent` names (seen
/// crashing in memcpy), its launches race when made from several threads, and the child inherits
/// the parent's blocked signal mask (a test process that traps signals, as Meridian's `run` does,
/// leaves its children deaf to SIGTERM). Here the child gets a clean signal mask and default
/// handlers, stdin from /dev/null, stdout (and stderr, or /dev/null) into a pipe, and every other
/// descriptor closed.
final class ChildProcess: @unchecked Sendable {  // `status` only under `lock`
    let processIdentifier: pid_t
    /// The read end of the child's stdout (and stderr when merged).
    let output: FileHandle
    private let lock = NSLock()
    private var status: Int32?

    /// `arguments[0]` is looked up on PATH (through /usr/bin/env) unless it is a path.
    init(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil, mergeStderr: Bool = true) throws {
        var fds: [Int32] = [0, 0]
        // Both ends close-on-exec: no other child inherits this pipe (dup2 onto 1 and 2 clears the
        // flag). Swift's Glibc module hides pipe2; there is a window between pipe and fcntl, which
        // closefrom in the child covers.
        guard pipe(&fds) == 0 else { throw TestError("pipe: \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        if mergeStderr {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        if let directory {
            guard let chdir = Self.addChdir else { throw TestError("posix_spawn_file_actions_addchdir_np is missing (glibc < 2.29)") }
            _ = chdir(&actions, directory)
        }
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.first?.hasPrefix("/") == true ? arguments : ["/usr/bin/env"] + arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw TestError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))")
        }
        processIdentifier = pid
        output = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+) and _addchdir_np (2.29+), which
    /// Swift's Glibc module does not show.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddCloseFrom.self) }
    private static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }
    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
        return dlsym(handle, name)
    }

    private func reap() {
        lock.lock()
        defer { lock.unlock() }
        guard status == nil else { return }
        var s: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(processIdentifier, &s, WNOHANG) } while r < 0 && errno == EINTR
        if r == processIdentifier { status = s }
    }

    var isRunning: Bool {
        reap()
        lock.lock()
        defer { lock.unlock() }
        return status == nil
    }

    /// The exit code, or 128 + the signal that ended it.
    var terminationStatus: Int32 {
        reap()
        lock.lock()
        defer { lock.unlock() }
        guard let s = status else { return -1 }
        let signal = s & 0x7F
        return signal == 0 ? (s >> 8) & 0xFF : 128 + signal
    }

    /// Waits for the exit without holding the lock (so `isRunning` and `signal` stay answerable),
    /// then reaps.
    func waitUntilExit() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        reap()
    }

    /// Sends `sig` unless the child has been reaped (its pid could belong to another process then).
    func signal(_ sig: Int32) {
        lock.lock()
        defer { lock.unlock() }
        if status == nil { kill(processIdentifier, sig) }
    }

    func terminate() { signal(SIGTERM) }
}

/// Runs a command-line tool to completion (killed after `timeout`) and returns its exit code and
/// combined output. Every real peer the tests drive (curl, nghttp, openssl, meridian) goes through here.
enum Subprocess {
    /// Runs on a dispatch thread, not the test's: a child that takes seconds must not hold one of
    /// the few cooperative threads every other test task needs (it made timing tests flaky).
    static func run(_ executable: URL, _ args: [String], environment: [String: String] = [:], timeout: Double = 60) async throws -> (Int32, String) {
        try await offThePool { try runBlocking(executable, args, environment: environment, timeout: timeout) }
    }

    /// Blocks the calling thread: for `run` and for callers already off the cooperative pool.
    static func runBlocking(_ executable: URL, _ args: [String], environment: [String: String] = [:], timeout: Double = 60) throws -> (Int32, String) {
        let child = try ChildProcess([executable.path] + args, environment: environment)
        let killer = DispatchWorkItem { [weak child] in child?.signal(SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = child.output.readDataToEndOfFile()
        try? child.output.close()
        child.waitUntilExit()
        killer.cancel()
        return (child.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A tool found on PATH.
    static func run(_ tool: String, _ args: [String], timeout: Double = 60) async throws -> (Int32, String) {
        try await run(URL(fileURLWithPath: "/usr/bin/env"), [tool] + args, timeout: timeout)
    }
}

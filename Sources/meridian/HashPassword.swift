import ArgumentParser
import Foundation
import MeridianConfig
import MeridianSecurity

/// `meridian hash-password`: prints an argon2id hash for a basic-auth user (`auth.NAME.basic.users[].hash`).
struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password",
        abstract: "Print an argon2id hash of a password (read from stdin, one line) for basic auth's users[].hash."
    )

    func run() throws {
        // From stdin only: a password in the arguments would be in the shell history and in ps.
        var line: String?
        if isatty(STDIN_FILENO) != 0 {
            // Typed at a terminal: not echoed.
            FileHandle.standardError.write(Data("password: ".utf8))
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
            line = readLine(strippingNewline: true)
            tcsetattr(STDIN_FILENO, TCSANOW, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        } else {
            line = readLine(strippingNewline: true)
        }
        guard var line else {
            FileHandle.standardError.write(Data("hash-password: no password on stdin\n".utf8))
            throw ExitCode(1)
        }
        if line.hasSuffix("\r") { line.removeLast() }
        guard !line.isEmpty else {
            FileHandle.standardError.write(Data("hash-password: the password is empty\n".utf8))
            throw ExitCode(1)
        }
        print(PasswordHash.argon2id(Array(line.utf8)))
    }
}

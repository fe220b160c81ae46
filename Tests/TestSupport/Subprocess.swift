import Foundation

/// A child process started with `posix_spawn` and reaped with `waitpid` by this value itself.
/// Not Foundation's `Process`: that one reaps through a SIGCHLD dispatch source, which never
/// fires under ThreadSanitizer, so every wait on it hung there. Standard input comes from a
/// file (or /dev/null), standard output and error go to files: no pipe can fill up, and a
/// grandchild holding one open cannot stall the test.
public final class Subprocess: @unchecked Sendable {
    public let pid: pid_t
    /// The raw `waitpid` status once reaped; only the thread that waits touches it.
    private var reaped: Int32?

    public struct SpawnFailed: Error, CustomStringConvertible {
        public var executable: String
        public var errno: Int32
        public var description: String { "cannot start \(executable): \(String(cString: strerror(errno)))" }
    }

    /// How a reaped process ended: `status` is the exit code, or the signal's number when
    /// `signal` is set.
    public struct Termination: Equatable, Sendable {
        public var status: Int32
        public var signal: Int32?
    }

    /// Starts `executable arguments…` (an absolute path; no PATH search) with exactly
    /// `environment`, in `directory` (or this process's own; through `env -C`, as Glibc's
    /// `posix_spawn_file_actions_addchdir_np` is not visible to Swift), its signal dispositions
    /// and mask reset to the defaults.
    public init(executable: String, arguments: [String], environment: [String: String],
                directory: String? = nil, stdin: String?, stdout: String, stderr: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let command = directory.map { ["/usr/bin/env", "-C", $0, executable] } ?? [executable]
        let argv = (command + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, command[0], &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SpawnFailed(executable: executable, errno: rc) }
        pid = child
    }

    /// Whether the process is still running (reaps it if it has just ended).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Waits for the end, at most `timeout` seconds (polling); past it the process is killed
    /// and reaped, and nil returned.
    public func wait(timeout: TimeInterval) -> Termination? {
        let deadline = Date().addingTimeInterval(timeout)
        while reap(blocking: false) == nil {
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = reap(blocking: true)
                return nil
            }
            usleep(5_000)
        }
        return termination
    }

    /// The way it ended, once reaped.
    public var termination: Termination? {
        guard let s = reaped else { return nil }
        let signal = s & 0x7f
        return signal == 0 ? Termination(status: (s >> 8) & 0xff, signal: nil)
                           : Termination(status: signal, signal: signal)
    }

    private func reap(blocking: Bool) -> Int32? {
        if let reaped { return reaped }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if r == pid { reaped = status; return status }
            if r == -1 && errno == EINTR { continue }
            return nil
        }
    }

    deinit {
        // Never leave a zombie, nor a runaway child, behind a test that threw.
        if reaped == nil {
            kill(pid, SIGKILL)
            _ = reap(blocking: true)
        }
    }
}

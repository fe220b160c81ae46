import Foundation
import TestSupport
import XCTest

/// `tramontane chat` as a person and as a script use it: typed into a terminal (tmux), and
/// fed turns through a pipe.
final class ChatCLITests: XCTestCase {
    let cacheDir = TempDir()

    func testPipedTurnsGiveOneJSONObjectEachAndTheSecondRunsOnlyItsOwnTokens() throws {
        let gguf = try Fixtures.smolLM2()
        let r = try CLIProcess.run(["chat", gguf, "--json", "--max-tokens", "24", "--activations", "f32"], cacheDir: cacheDir.path,
                                   stdin: "What is the capital of France?\n/stats\n\nAnd of Italy?\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "one object per turn; /stats and the empty line are not turns: \(r.stdout)")
        struct Turn: Decodable { let turn: Int; let answer: String; let prompt_tokens: Int; let context_used: Int; let stop_reason: String }
        let turns = try lines.map { try JSONDecoder().decode(Turn.self, from: Data($0.utf8)) }
        XCTAssertEqual(turns.map(\.turn), [1, 2])
        XCTAssertTrue(turns[0].answer.contains("Paris"), turns[0].answer)
        XCTAssertEqual(turns[0].stop_reason, "eos")
        XCTAssertLessThan(turns[1].prompt_tokens, 20, "the second turn runs its own tokens only, not the conversation")
        XCTAssertGreaterThan(turns[1].context_used, turns[0].context_used + turns[1].prompt_tokens - 1)
        XCTAssertTrue(r.stderr.contains("context: "), "/stats reports on stderr: \(r.stderr)")
    }

    func testAModelWithoutATokenizerSaysSo() throws {
        let r = try CLIProcess.run(["chat", Fixtures.tinyMistral("hf-safetensors-f32")], cacheDir: cacheDir.path, stdin: "Hi\n")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.lowercased().contains("tokenizer"), r.stderr)
    }

    /// A person at a terminal: tmux runs the chat, the test types two turns (with a typo fixed
    /// by ← and Backspace), asks for /stats, stops a long answer with Ctrl-C, leaves with Ctrl-D.
    func testTwoTurnsTypedIntoATerminal() throws {
        let gguf = try Fixtures.smolLM2()
        let tmux = try Terminal(command: [try CLIProcess.binary, "chat", gguf, "--max-tokens", "2000", "--activations", "f32"],
                                environment: ["TRAMONTANE_CACHE_DIR": cacheDir.path])
        // capture-pane drops trailing spaces: a prompt is a line that starts with ">".
        func prompts(_ screen: String) -> Int { screen.split(separator: "\n").filter { $0.hasPrefix(">") }.count }
        try tmux.waitFor { prompts($0) == 1 }
        try tmux.type("What is the capital of Frxnce?")
        try tmux.keys(["Left", "Left", "Left", "Left", "BSpace"])
        try tmux.type("a")
        try tmux.keys(["Enter"])
        try tmux.waitFor("Paris", timeout: 90)
        try tmux.waitFor { prompts($0) == 2 }
        try tmux.type("/stats")
        try tmux.keys(["Enter"])
        try tmux.waitFor("context: ")
        try tmux.type("And of Italy?")
        try tmux.keys(["Enter"])
        try tmux.waitFor("Rome", timeout: 90)
        try tmux.waitFor { prompts($0) == 4 }
        let screen = try tmux.screen()
        XCTAssertTrue(screen.contains("> What is the capital of France?"), "the corrected line is what was sent:\n\(screen)")
        // Ctrl-C stops a long answer and the chat goes on.
        try tmux.type("Write a very long story about a dragon.")
        try tmux.keys(["Enter"])
        usleep(1_500_000)
        try tmux.keys(["C-c"])
        try tmux.waitFor("[stopped]")
        try tmux.waitFor { prompts($0) == 5 }
        try tmux.keys(["C-d"])
        try tmux.waitForExit()
    }
}

/// A detached tmux session on a server of its own, running one command: keys in, screen out.
final class Terminal {
    let socket = "tramontane-test-\(UUID().uuidString.prefix(8))"
    private let logs = TempDir()

    struct Failed: Error, CustomStringConvertible { var description: String }

    init(command: [String], environment: [String: String]) throws {
        let env = environment.map { "\($0.key)=\(Self.quote($0.value))" }.joined(separator: " ")
        let line = "env \(env) " + command.map(Self.quote).joined(separator: " ") + "; echo '[exited]'; sleep 30"
        try tmux(["new-session", "-d", "-x", "120", "-y", "40", "-s", "chat", line])
    }

    deinit { _ = try? tmux(["kill-server"]) }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    @discardableResult
    func tmux(_ args: [String]) throws -> String {
        // posix_spawn and waitpid, not Foundation's Process: the tmux server that `new-session`
        // forks keeps the descriptors Process watches for the end of its child, so Process
        // would wait for the server.
        let out = logs.file("tmux.out")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ["tmux", "-L", socket] + args
        var cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, "tmux", &actions, nil, &cargs, environ) == 0 else {
            throw Failed(description: "tmux could not be run: is it installed? (scripts/setup-debian.sh installs it)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw Failed(description: "tmux \(args.joined(separator: " ")) failed (status \(status))") }
        return readText(out)
    }

    func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", "chat"]) }
    func type(_ text: String) throws { try tmux(["send-keys", "-t", "chat", "-l", text]) }
    func keys(_ keys: [String]) throws { try tmux(["send-keys", "-t", "chat"] + keys) }

    func waitFor(_ text: String, timeout: TimeInterval = 60) throws {
        try waitFor(timeout: timeout, what: "\"\(text)\"") { $0.contains(text) }
    }

    func waitFor(timeout: TimeInterval = 60, what: String = "the screen", _ ok: (String) -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if ok(last) { return }
            usleep(100_000)
        }
        throw Failed(description: "waited \(Int(timeout)) s for \(what); the screen:\n\(last)")
    }

    func waitForExit(timeout: TimeInterval = 30) throws { try waitFor("[exited]", timeout: timeout) }
}

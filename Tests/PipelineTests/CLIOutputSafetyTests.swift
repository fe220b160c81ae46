import Foundation
import TestSupport
import XCTest

/// What the commands that write files may write over (`OutputTarget`) and what a signal leaves
/// behind (`AtomicOutputFile`), through the built binary, each run with a bounded wait.
final class CLIOutputSafetyTests: XCTestCase {
    let cacheDir = TempDir()

    func run(_ args: [String]) throws -> CLIProcess.Ended { try CLIProcess.run(args, cacheDir: cacheDir.path) }

    /// A copy of a tiny-mistral fixture folder, to write into.
    func copyFixture(_ layout: String, into dir: TempDir) throws -> String {
        let dst = dir.file(layout)
        try FileManager.default.copyItem(atPath: Fixtures.tinyMistral(layout), toPath: dst)
        return dst
    }

    func assertRefused(_ r: CLIProcess.Ended, naming path: String, saying words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertNil(r.signal, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains(words), r.stderr, file: file, line: line)
    }

    /// `-o` naming an input — a `.tmt` source, the safetensors file of a folder source, a shard
    /// or the index of a sharded one, the config beside it, an imatrix or token file, and hard
    /// and symbolic links to a source — is refused with or without --force, and the source keeps
    /// its bytes.
    func testOutputThatIsAnInputIsRefused() throws {
        let dir = TempDir()
        let tmt = dir.file("base.tmt")
        XCTAssertEqual(try run(["convert", Fixtures.tinyMistral("hf-safetensors-f32"), "-o", tmt, "--codec", "raw"]).status, 0)
        XCTAssertEqual(link(tmt, dir.file("hard.tmt")), 0)
        XCTAssertEqual(symlink(tmt, dir.file("soft.tmt")), 0)
        let folder = try copyFixture("hf-safetensors-f32", into: dir)
        let sharded = try copyFixture("hf-sharded-bf16", into: dir)
        let tokens = dir.write("tokens.txt", Array((0..<64).map { String($0 * 13 % 1024) }.joined(separator: ",").utf8))

        var cases: [(args: [String], output: String, protected: String)] = []
        for force in [[], ["--force"]] {
            cases += [
                (["convert", tmt, "-o", tmt] + force, tmt, tmt),
                (["quantize", tmt, "-o", tmt, "--type", "q8_0"] + force, tmt, tmt),
                (["convert", tmt, "-o", dir.file("hard.tmt")] + force, dir.file("hard.tmt"), tmt),
                (["convert", tmt, "-o", dir.file("soft.tmt")] + force, dir.file("soft.tmt"), tmt),
                (["convert", folder, "-o", folder + "/model.safetensors"] + force, folder + "/model.safetensors", folder + "/model.safetensors"),
                (["convert", folder, "-o", folder + "/config.json"] + force, folder + "/config.json", folder + "/config.json"),
                (["convert", sharded, "-o", sharded + "/model-00002-of-00003.safetensors"] + force,
                 sharded + "/model-00002-of-00003.safetensors", sharded + "/model-00002-of-00003.safetensors"),
                (["quantize", sharded, "-o", sharded + "/model.safetensors.index.json", "--type", "q4_0"] + force,
                 sharded + "/model.safetensors.index.json", sharded + "/model.safetensors.index.json"),
                (["imatrix", tmt, "-o", tmt, "--tokens", tokens, "--ctx", "16"] + force, tmt, tmt),
                (["imatrix", tmt, "-o", tokens, "--tokens", tokens, "--ctx", "16"] + force, tokens, tokens),
            ]
        }
        for c in cases {
            let before = readBytes(c.protected)
            XCTAssertFalse(before.isEmpty, c.protected)
            let r = try run(c.args)
            assertRefused(r, naming: c.output, saying: "destroy the source")
            XCTAssertTrue(readBytes(c.protected) == before, "\(c.args): \(c.protected) changed")
        }
        // An imatrix given to quantize is an input too.
        let imatrix = dir.file("m.imatrix")
        XCTAssertEqual(try run(["imatrix", tmt, "-o", imatrix, "--tokens", tokens, "--ctx", "16"]).status, 0)
        let before = readBytes(imatrix)
        assertRefused(try run(["quantize", tmt, "-o", imatrix, "--type", "q4_0", "--imatrix", imatrix, "--force"]),
                      naming: imatrix, saying: "destroy the source")
        XCTAssertTrue(readBytes(imatrix) == before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }, [])
    }

    /// `-o` naming a FIFO or /dev/null is refused (with --force too) and leaves it what it was.
    func testNonRegularOutputIsRefused() throws {
        let dir = TempDir()
        let fifo = dir.file("out.tmt")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let source = Fixtures.tinyMistral("hf-safetensors-f32")
        for (output, kind, mode) in [(fifo, "FIFO", S_IFIFO), ("/dev/null", "character device", S_IFCHR)] {
            for args in [["convert", source, "-o", output, "--force"], ["quantize", source, "-o", output, "--type", "q8_0"]] {
                assertRefused(try run(args), naming: output, saying: kind)
                var st = stat()
                XCTAssertEqual(stat(output, &st), 0)
                XCTAssertEqual(st.st_mode & S_IFMT, mode, "\(output) is still a \(kind)")
            }
        }
        XCTAssertEqual(dir.contents(), ["out.tmt"])
    }

    /// An existing output is refused without --force (and kept), replaced with it: convert,
    /// quantize and imatrix alike.
    func testExistingOutputNeedsForce() throws {
        let dir = TempDir()
        let source = Fixtures.tinyMistral("hf-safetensors-f32")
        let tokens = dir.write("tokens.txt", Array((0..<64).map { String($0 * 7 % 1024) }.joined(separator: " ").utf8))
        let commands: [(String) -> [String]] = [
            { ["convert", source, "-o", $0, "--codec", "raw"] },
            { ["quantize", source, "-o", $0, "--type", "q8_0"] },
            { ["imatrix", source, "-o", $0, "--tokens", tokens, "--ctx", "16"] },
        ]
        for (i, command) in commands.enumerated() {
            let out = dir.write("out\(i)", Array("previous".utf8))
            let refused = try run(command(out))
            assertRefused(refused, naming: out, saying: "--force")
            XCTAssertEqual(readBytes(out), Array("previous".utf8))
            let forced = try run(command(out) + ["--force"])
            XCTAssertEqual(forced.status, 0, forced.stderr)
            XCTAssertNotEqual(readBytes(out), Array("previous".utf8))
            XCTAssertGreaterThan(readBytes(out).count, 1000)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }, [])
    }

    /// SIGTERM, SIGINT, SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\) while the output is
    /// being written: the process dies of the signal, the temporary is gone, and the existing
    /// target is untouched. Swift's runtime takes SIGQUIT for its backtracer (the next test), so
    /// the handler is tested on it with the backtracer off, as the signal's action is then the
    /// default.
    func testSignalMidWriteRemovesTheTemporary() throws {
        let source = try slowSource()
        try withoutCoreDumps {
            for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT] {
                let dir = TempDir()
                let out = dir.write("out.tmt", Array("previous model".utf8))
                let p = try startSlowConvert(source, to: out, environment: sig == SIGQUIT ? ["SWIFT_BACKTRACE": "enable=no"] : [:])
                try waitForTemporary(of: out, in: dir, written: p)
                XCTAssertEqual(kill(p.pid, sig), 0)
                let ended = try p.wait()
                XCTAssertEqual(ended.signal, sig, "died of the signal: \(ended.stderr)")
                XCTAssertEqual(dir.contents(), ["out.tmt"], "signal \(sig): no temporary left")
                XCTAssertEqual(readBytes(out), Array("previous model".utf8), "signal \(sig): the target is untouched")
            }
        }
    }

    /// SIGQUIT as Swift's runtime handles it by default on Linux: its backtracer prints where
    /// every thread is and the process carries on (the cleanup handler never replaces a handler
    /// it finds), so the conversion ends by itself: no temporary is left, and the target is the
    /// complete new file.
    func testSIGQUITUnderSwiftsBacktracerCarriesOn() throws {
        let source = try slowSource()
        let dir = TempDir()
        let out = dir.write("out.tmt", Array("previous model".utf8))
        let p = try startSlowConvert(source, to: out, environment: ["SWIFT_BACKTRACE": "enable=yes,interactive=no"])
        try waitForTemporary(of: out, in: dir, written: p)
        XCTAssertEqual(kill(p.pid, SIGQUIT), 0)
        let ended = try p.wait()
        XCTAssertNil(ended.signal, ended.stderr)
        XCTAssertEqual(ended.status, 0, ended.stderr)
        XCTAssertTrue(ended.stderr.contains("Signal 3"), "the backtracer ran: \(ended.stderr.prefix(500))")
        XCTAssertEqual(dir.contents(), ["out.tmt"])
        XCTAssertEqual(try run(["verify", out]).status, 0)
    }

    /// Runs `body` with core dumps off (SIGQUIT's default action dumps core), as its children
    /// inherit the limit.
    func withoutCoreDumps(_ body: () throws -> Void) throws {
        #if os(Linux)
        let core = __rlimit_resource_t(RLIMIT_CORE.rawValue)
        #else
        let core = RLIMIT_CORE
        #endif
        var before = rlimit()
        XCTAssertEqual(getrlimit(core, &before), 0)
        var none = rlimit(rlim_cur: 0, rlim_max: before.rlim_max)
        XCTAssertEqual(setrlimit(core, &none), 0)
        defer { _ = setrlimit(core, &before) }
        try body()
    }

    /// SIGKILL cannot be caught: the temporary stays, the target is untouched, and the next run
    /// writing that target removes the stale temporary (its process is gone).
    func testSIGKILLLeavesTheTargetAndTheNextRunCleansUp() throws {
        let source = try slowSource()
        let dir = TempDir()
        let out = dir.write("out.tmt", Array("previous model".utf8))
        let p = try startSlowConvert(source, to: out)
        let temporary = try waitForTemporary(of: out, in: dir, written: p)
        XCTAssertEqual(kill(p.pid, SIGKILL), 0)
        XCTAssertEqual(try p.wait().signal, SIGKILL)
        XCTAssertEqual(dir.contents(), ["out.tmt", temporary])
        XCTAssertEqual(readBytes(out), Array("previous model".utf8))

        let next = try run(["convert", source, "-o", out, "--force", "--codec", "raw", "--no-source-hash"])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertEqual(dir.contents(), ["out.tmt"], "the stale temporary is removed")
        XCTAssertEqual(try run(["verify", out]).status, 0)
    }

    // MARK: - A write slow enough to interrupt

    /// A synthetic tiny-mistral with a 16384-token vocabulary (8 MiB of f32 embeddings and
    /// output), made once: compressing it with zstd level 19 on one thread takes seconds,
    /// while the tests signal it a few milliseconds after its temporary appears.
    static let slow = TempDir()

    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: slow.path)
        super.tearDown()
    }

    func slowSource() throws -> String {
        let folder = Self.slow.file("slow")
        if FileManager.default.fileExists(atPath: folder + "/model.safetensors") { return folder }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let vocab = 16384, dim = 64, ffn = 192, kv = 16
        let config = try String(contentsOfFile: Fixtures.tinyMistral("hf-safetensors-f32") + "/config.json", encoding: .utf8)
            .replacingOccurrences(of: "\"vocab_size\": 1024", with: "\"vocab_size\": \(vocab)")
            .replacingOccurrences(of: "\"num_hidden_layers\": 2", with: "\"num_hidden_layers\": 1")
        XCTAssertTrue(config.contains("\(vocab)"))
        try config.write(toFile: folder + "/config.json", atomically: false, encoding: .utf8)
        var rng = SeededRandom(seed: 7)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Int32(truncatingIfNeeded: rng.next())) / Float(Int32.max) } }
        var tensors: [(String, [Int], [Float])] = [
            ("model.embed_tokens.weight", [vocab, dim], values(vocab * dim)),
            ("lm_head.weight", [vocab, dim], values(vocab * dim)),
            ("model.norm.weight", [dim], values(dim)),
        ]
        let layer = "model.layers.0."
        for (name, shape) in [("input_layernorm", [dim]), ("post_attention_layernorm", [dim]),
                              ("self_attn.q_proj", [dim, dim]), ("self_attn.k_proj", [kv, dim]), ("self_attn.v_proj", [kv, dim]),
                              ("self_attn.o_proj", [dim, dim]),
                              ("mlp.gate_proj", [ffn, dim]), ("mlp.up_proj", [ffn, dim]), ("mlp.down_proj", [dim, ffn])] {
            tensors.append((layer + name + ".weight", shape, values(shape.reduce(1, *))))
        }
        _ = Self.slow.write("slow/model.safetensors", SafetensorsBuilder.valid(tensors))
        return folder
    }

    func startSlowConvert(_ source: String, to out: String, environment: [String: String] = [:]) throws -> CLIProcess {
        try CLIProcess(["convert", source, "-o", out, "--force", "--codec", "zstd", "--level", "19", "--threads", "1", "--no-source-hash"],
                       cacheDir: cacheDir.path, environment: environment)
    }

    /// Polls (up to 60 s) until `NAME.tmp-PID-N` of the running process exists; returns its name.
    @discardableResult
    func waitForTemporary(of out: String, in dir: TempDir, written p: CLIProcess) throws -> String {
        let name = (out as NSString).lastPathComponent + ".tmp-\(p.pid)-"
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let t = dir.contents().first(where: { $0.hasPrefix(name) }) {
                XCTAssertTrue(p.process.isRunning, "the conversion is still writing when signalled")
                return t
            }
            if !p.process.isRunning {
                let ended = try p.wait()
                XCTFail("convert ended (status \(ended.status)) before its temporary was seen: \(ended.stderr)")
                throw CLIProcess.TimedOut(args: p.args)
            }
            usleep(2_000)
        }
        kill(p.pid, SIGKILL)
        _ = try? p.wait()
        throw CLIProcess.TimedOut(args: p.args)
    }
}

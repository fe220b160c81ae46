import Foundation

/// Reads a line from a terminal with editing, as readline does for the keys people use:
/// ←/→, Home/End (Ctrl-A/E), Backspace, Delete, Ctrl-U/K/W (kill to start / to end / a word),
/// ↑/↓ through earlier lines, Ctrl-L (clear the screen), Ctrl-C (drop the line), Ctrl-D (leave,
/// on an empty line). The terminal is in raw mode only while a line is read.
final class LineEditor {
    enum Input: Equatable {
        case line(String)
        /// Ctrl-C: the line was dropped.
        case interrupted
        /// Ctrl-D on an empty line, or the input ended.
        case end
    }

    private(set) var history: [String] = []
    private let input: Int32
    private let output: Int32

    init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) {
        self.input = input
        self.output = output
    }

    static func isTerminal(_ fd: Int32 = STDIN_FILENO) -> Bool { isatty(fd) == 1 }

    func read(prompt: String) -> Input {
        var saved = termios()
        guard tcgetattr(input, &saved) == 0 else { return .end }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(input, TCSAFLUSH, &raw)
        defer { tcsetattr(input, TCSAFLUSH, &saved) }

        var state = EditState()
        var browse = history.count   // index into history while ↑/↓ browse; history.count = the new line
        var draft = ""
        write(prompt)
        func redraw() {
            let after = state.text.count - state.cursor
            write("\r" + prompt + String(state.text) + "\u{1B}[K" + (after > 0 ? "\u{1B}[\(after)D" : ""))
        }
        while let key = nextKey() {
            switch key {
            case .enter:
                write("\r\n")
                let line = String(state.text)
                if !line.trimmingCharacters(in: .whitespaces).isEmpty, history.last != line { history.append(line) }
                return .line(line)
            case .control(0x03):   // Ctrl-C
                write("^C\r\n")
                return .interrupted
            case .control(0x04):   // Ctrl-D
                if state.text.isEmpty { write("\r\n"); return .end }
                state.deleteForward()
            case .up, .down:
                let target = key == .up ? browse - 1 : browse + 1
                guard target >= 0, target <= history.count else { continue }
                if browse == history.count { draft = String(state.text) }
                browse = target
                state = EditState(browse == history.count ? draft : history[browse])
            case .control(0x0C):   // Ctrl-L
                write("\u{1B}[H\u{1B}[2J")
            default:
                state.apply(key)
            }
            redraw()
        }
        return .end
    }

    private func write(_ s: String) {
        let bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
    }

    private func readByte() -> UInt8? {
        var b: UInt8 = 0
        while true {
            let n = Glibc.read(input, &b, 1)
            if n == 1 { return b }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// One key from the terminal's bytes: a UTF-8 character, a control byte or an escape sequence.
    private func nextKey() -> Key? {
        guard let b = readByte() else { return nil }
        switch b {
        case 0x0D, 0x0A: return .enter
        case 0x7F, 0x08: return .backspace
        case 0x1B:
            guard let c = readByte() else { return nil }
            guard c == UInt8(ascii: "[") || c == UInt8(ascii: "O") else { return .ignored }
            var params: [UInt8] = []
            while let d = readByte() {
                if d >= 0x40 && d <= 0x7E {
                    switch (d, params) {
                    case (UInt8(ascii: "A"), _): return .up
                    case (UInt8(ascii: "B"), _): return .down
                    case (UInt8(ascii: "C"), _): return .right
                    case (UInt8(ascii: "D"), _): return .left
                    case (UInt8(ascii: "H"), _): return .home
                    case (UInt8(ascii: "F"), _): return .end
                    case (UInt8(ascii: "~"), [UInt8(ascii: "3")]): return .delete
                    case (UInt8(ascii: "~"), [UInt8(ascii: "1")]), (UInt8(ascii: "~"), [UInt8(ascii: "7")]): return .home
                    case (UInt8(ascii: "~"), [UInt8(ascii: "4")]), (UInt8(ascii: "~"), [UInt8(ascii: "8")]): return .end
                    default: return .ignored
                    }
                }
                params.append(d)
                if params.count > 16 { return .ignored }
            }
            return nil
        case 0x00..<0x20: return .control(b)
        default:
            // A UTF-8 sequence: the lead byte says how many continuation bytes follow.
            let need = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0
            var bytes = [b]
            for _ in 0..<need {
                guard let c = readByte() else { return nil }
                bytes.append(c)
            }
            let s = String(decoding: bytes, as: UTF8.self)
            return s.first.map(Key.character) ?? .ignored
        }
    }
}

/// A key as the line editor sees it.
enum Key: Equatable {
    case character(Character), control(UInt8)
    case enter, backspace, delete, left, right, home, end, up, down, ignored
}

/// The line being edited and the cursor in it: every edit as a pure function of a key, so it is
/// tested without a terminal.
struct EditState: Equatable {
    var text: [Character]
    var cursor: Int

    init(_ s: String = "") {
        text = Array(s)
        cursor = text.count
    }

    mutating func apply(_ key: Key) {
        switch key {
        case .character(let c): text.insert(c, at: cursor); cursor += 1
        case .backspace: if cursor > 0 { cursor -= 1; text.remove(at: cursor) }
        case .delete: deleteForward()
        case .left, .control(0x02): cursor = max(0, cursor - 1)
        case .right, .control(0x06): cursor = min(text.count, cursor + 1)
        case .home, .control(0x01): cursor = 0
        case .end, .control(0x05): cursor = text.count
        case .control(0x15): text.removeSubrange(0..<cursor); cursor = 0           // Ctrl-U
        case .control(0x0B): text.removeSubrange(cursor...)                        // Ctrl-K
        case .control(0x17):                                                        // Ctrl-W
            var start = cursor
            while start > 0, text[start - 1] == " " { start -= 1 }
            while start > 0, text[start - 1] != " " { start -= 1 }
            text.removeSubrange(start..<cursor)
            cursor = start
        case .control(0x09): apply(.character(" "))                                // Tab
        default: break
        }
    }

    mutating func deleteForward() {
        if cursor < text.count { text.remove(at: cursor) }
    }
}

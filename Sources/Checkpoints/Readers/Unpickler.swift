import TensorCore

/// What the allow-list unpickler builds. Lists and dicts are reference types because pickle
/// mutates them after they are memoized.
package indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    case storage(TorchStorage)
    case tensor(TorchTensor)
    case mark

    var description: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return "\(b)"
        case .int(let i): return "\(i)"
        case .float(let f): return "\(f)"
        case .string(let s): return "'\(s)'"
        case .bytes(let b): return "bytes[\(b.count)]"
        case .tuple(let t): return "tuple[\(t.count)]"
        case .list(let l): return "list[\(l.items.count)]"
        case .dict(let d): return "dict[\(d.items.count)]"
        case .global(let m, let n): return "\(m).\(n)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        case .mark: return "mark"
        }
    }
}

package final class PickleList { package var items: [PickleValue] = [] }
package final class PickleDict { package var items: [(key: PickleValue, value: PickleValue)] = [] }

/// An unpickled value and every list and dict made while reading it. Releasing a value nested
/// N levels deep takes N nested stack frames (Swift frees a container's elements from its own
/// deinit), and a 50 KB pickle nests lists 25 000 deep: so `deinit` first empties every list and
/// dict while all of them are still held here, and each is then freed on its own. Tuples, which
/// cannot be mutated after they are made, are limited in depth instead (`Unpickler.maxTupleDepth`).
/// Read `root` only while this object is alive (`withExtendedLifetime`).
package final class Pickle {
    package let root: PickleValue
    fileprivate let containers: PickleContainers

    fileprivate init(root: PickleValue, containers: PickleContainers) {
        self.root = root
        self.containers = containers
    }

    deinit { containers.empty() }
}

/// Every list and dict an unpickler made, so they can be emptied without recursion.
fileprivate final class PickleContainers {
    var lists: [PickleList] = []
    var dicts: [PickleDict] = []

    func list() -> PickleList { let l = PickleList(); lists.append(l); return l }
    func dict() -> PickleDict { let d = PickleDict(); dicts.append(d); return d }

    func empty() {
        for l in lists { l.items = [] }
        for d in dicts { d.items = [] }
    }
}

/// A storage named by a persistent id: `('storage', torch.XStorage, key, location, numel)`.
package struct TorchStorage {
    package let dtype: DType
    package let key: String
    package let count: Int
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`.
package struct TorchTensor {
    package let storage: TorchStorage
    package let offset: Int
    package let shape: [Int]
    package let stride: [Int]
}

/// Reads the pickle that `torch.save` writes (`data.pkl`) without executing anything: a small
/// stack machine that understands the opcodes of protocols 2–5 that torch emits, and builds only
/// dicts, lists, tuples, scalars, storages and tensors. Any global outside the allow-list is
/// refused with an error naming it, before anything is called.
package struct Unpickler {
    /// The globals a state dict may name; everything else is refused.
    static let storageTypes: [String: DType] = [
        "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]
    static let callables: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    ]
    static let maxStack = 1 << 20
    /// Tuples nested deeper than this are refused: torch's nest a few levels, and releasing a
    /// nested tuple recurses once per level.
    static let maxTupleDepth = 256

    /// A stack or memo entry: the value, and how deep its release recurses (tuples nest; a list
    /// or dict counts 1, its own items being emptied separately by `PickleContainers`).
    struct Slot {
        var value: PickleValue
        var depth: Int
    }

    let b: UnsafeRawBufferPointer
    let path: String
    var stack: [Slot] = []
    var marks: [Int] = []
    var memo: [Int: Slot] = [:]
    fileprivate let containers = PickleContainers()

    package static func load(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Pickle {
        var u = Unpickler(b: bytes, path: path)
        do {
            let root = try u.run()
            return Pickle(root: root, containers: u.containers)
        } catch {
            // Before the stack and memo are released, so that nothing is freed recursively.
            u.containers.empty()
            throw error
        }
    }

    private func fail(_ at: Int, _ s: String) -> CheckpointError { .invalidPickle(path: path, offset: at, detail: s) }

    private mutating func popSlot(_ at: Int) throws -> Slot {
        guard let v = stack.popLast() else { throw fail(at, "stack underflow") }
        if case .mark = v.value { throw fail(at, "unexpected mark") }
        return v
    }

    private mutating func pop(_ at: Int) throws -> PickleValue { try popSlot(at).value }

    private mutating func popSlotsToMark(_ at: Int) throws -> [Slot] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail(at, "no mark on the stack") }
        // A copy, not a slice: a slice would keep the stack's buffer shared, and removing from
        // it would copy the whole stack.
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func popToMark(_ at: Int) throws -> [PickleValue] { try popSlotsToMark(at).map(\.value) }

    private mutating func push(_ v: PickleValue, _ at: Int) throws {
        let depth: Int
        switch v {
        case .list, .dict: depth = 1
        default: depth = 0
        }
        try push(Slot(value: v, depth: depth), at)
    }

    private mutating func push(_ slot: Slot, _ at: Int) throws {
        guard stack.count < Unpickler.maxStack else { throw fail(at, "stack too deep") }
        stack.append(slot)
    }

    /// A tuple of `items`, one level deeper than the deepest of them.
    private mutating func pushTuple<S: Collection>(_ items: S, _ at: Int) throws where S.Element == Slot {
        let depth = 1 + (items.map(\.depth).max() ?? 0)
        guard depth <= Unpickler.maxTupleDepth else { throw fail(at, "tuples nested more than \(Unpickler.maxTupleDepth) deep") }
        try push(Slot(value: .tuple(items.map(\.value)), depth: depth), at)
    }

    private func global(_ module: String, _ name: String, _ at: Int) throws -> PickleValue {
        let full = "\(module).\(name)"
        if module == "torch", Unpickler.storageTypes[name] != nil { return .global(module: module, name: name) }
        if Unpickler.callables.contains(full) { return .global(module: module, name: name) }
        throw CheckpointError.forbiddenPickleGlobal(path: path, global: full)
    }

    private func int(_ v: PickleValue, _ at: Int, _ what: String) throws -> Int {
        guard case .int(let i) = v, let n = Int(exactly: i) else { throw fail(at, "\(what) is \(v.description), expected an integer") }
        return n
    }

    private func ints(_ v: PickleValue, _ at: Int, _ what: String) throws -> [Int] {
        guard case .tuple(let t) = v else { throw fail(at, "\(what) is \(v.description), expected a tuple") }
        return try t.map { try int($0, at, what) }
    }

    private func reduce(_ callable: PickleValue, _ args: PickleValue, _ at: Int) throws -> PickleValue {
        guard case .global(let module, let name) = callable else { throw fail(at, "REDUCE on \(callable.description)") }
        guard case .tuple(let a) = args else { throw fail(at, "REDUCE arguments are not a tuple") }
        switch "\(module).\(name)" {
        case "collections.OrderedDict":
            return .dict(containers.dict())
        case "torch._utils._rebuild_tensor_v2":
            guard a.count >= 4, case .storage(let s) = a[0] else { throw fail(at, "_rebuild_tensor_v2 needs (storage, offset, size, stride, …)") }
            let offset = try int(a[1], at, "storage offset")
            let shape = try ints(a[2], at, "size")
            let stride = try ints(a[3], at, "stride")
            guard shape.count == stride.count, offset >= 0, shape.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }) else {
                throw fail(at, "tensor with size \(shape), stride \(stride), offset \(offset)")
            }
            return .tensor(TorchTensor(storage: s, offset: offset, shape: shape, stride: stride))
        case "torch._utils._rebuild_parameter":
            guard let t = a.first, case .tensor = t else { throw fail(at, "_rebuild_parameter without a tensor") }
            return t
        default:
            throw CheckpointError.forbiddenPickleGlobal(path: path, global: "\(module).\(name)")
        }
    }

    private mutating func run() throws -> PickleValue {
        var r = ByteReader(b)
        do {
            while true {
                let at = r.offset
                let op = try r.readU8()
                switch op {
                case 0x80: _ = try r.readU8()                                   // PROTO
                case 0x95: _ = try r.readU64()                                  // FRAME
                case 0x2E: return try pop(at)                                   // STOP
                case 0x28: marks.append(stack.count)                            // MARK
                case 0x7D: try push(.dict(containers.dict()), at)               // EMPTY_DICT
                case 0x5D: try push(.list(containers.list()), at)               // EMPTY_LIST
                case 0x29: try push(.tuple([]), at)                             // EMPTY_TUPLE
                case 0x4E: try push(.none, at)                                  // NONE
                case 0x88: try push(.bool(true), at)                            // NEWTRUE
                case 0x89: try push(.bool(false), at)                           // NEWFALSE
                case 0x4B: try push(.int(Int64(try r.readU8())), at)            // BININT1
                case 0x4D: try push(.int(Int64(try r.readU16())), at)           // BININT2
                case 0x4A: try push(.int(Int64(try r.readI32())), at)           // BININT
                case 0x8A:                                                       // LONG1
                    let n = Int(try r.readU8())
                    let bytes = try r.readBytes(n)
                    guard n <= 8 else { throw fail(at, "integer of \(n) bytes is too large") }
                    var v: Int64 = 0
                    for i in 0..<n { v |= Int64(bytes[i]) << (8 * Int64(i)) }
                    if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 { v -= Int64(1) << (8 * Int64(n)) }
                    try push(.int(v), at)
                case 0x47: try push(.float(Double(bitPattern: try r.readBigEndianU64())), at) // BINFLOAT
                case 0x58: try push(.string(try r.readString(Int(try r.readU32()))), at)    // BINUNICODE
                case 0x8C: try push(.string(try r.readString(Int(try r.readU8()))), at)     // SHORT_BINUNICODE
                case 0x8D:                                                                   // BINUNICODE8
                    let n = try r.readU64()
                    guard n <= UInt64(r.remaining) else { throw fail(at, "string longer than the pickle") }
                    try push(.string(try r.readString(Int(n))), at)
                case 0x54: try push(.string(try r.readString(Int(try r.readU32()))), at)    // BINSTRING
                case 0x55: try push(.string(try r.readString(Int(try r.readU8()))), at)     // SHORT_BINSTRING
                case 0x42: try push(.bytes(Array(try r.readBytes(Int(try r.readU32())))), at) // BINBYTES
                case 0x43: try push(.bytes(Array(try r.readBytes(Int(try r.readU8())))), at)  // SHORT_BINBYTES
                case 0x71: memo[Int(try r.readU8())] = try topSlot(at)          // BINPUT
                case 0x72: memo[Int(try r.readU32())] = try topSlot(at)         // LONG_BINPUT
                case 0x94: memo[memo.count] = try topSlot(at)                   // MEMOIZE
                case 0x68, 0x6A:                                                 // BINGET, LONG_BINGET
                    let k = op == 0x68 ? Int(try r.readU8()) : Int(try r.readU32())
                    guard let v = memo[k] else { throw fail(at, "memo key \(k) not set") }
                    try push(v, at)
                case 0x30: _ = try pop(at)                                       // POP
                case 0x31: _ = try popToMark(at)                                 // POP_MARK
                case 0x32: try push(try topSlot(at), at)                         // DUP
                case 0x74: try pushTuple(try popSlotsToMark(at), at)             // TUPLE
                case 0x85: let a = try popSlot(at); try pushTuple([a], at)       // TUPLE1
                case 0x86: let b2 = try popSlot(at), a = try popSlot(at); try pushTuple([a, b2], at)  // TUPLE2
                case 0x87: let c = try popSlot(at), b2 = try popSlot(at), a = try popSlot(at); try pushTuple([a, b2, c], at) // TUPLE3
                case 0x6C: let l = containers.list(); l.items = try popToMark(at); try push(.list(l), at) // LIST
                case 0x64:                                                        // DICT
                    let items = try popToMark(at)
                    let d = containers.dict()
                    try addPairs(items, to: d, at)
                    try push(.dict(d), at)
                case 0x61:                                                        // APPEND
                    let v = try pop(at)
                    guard case .list(let l) = try top(at) else { throw fail(at, "APPEND to a non-list") }
                    l.items.append(v)
                case 0x65:                                                        // APPENDS
                    let items = try popToMark(at)
                    guard case .list(let l) = try top(at) else { throw fail(at, "APPENDS to a non-list") }
                    l.items.append(contentsOf: items)
                case 0x73:                                                        // SETITEM
                    let v = try pop(at), k = try pop(at)
                    guard case .dict(let d) = try top(at) else { throw fail(at, "SETITEM on a non-dict") }
                    d.items.append((k, v))
                case 0x75:                                                        // SETITEMS
                    let items = try popToMark(at)
                    guard case .dict(let d) = try top(at) else { throw fail(at, "SETITEMS on a non-dict") }
                    try addPairs(items, to: d, at)
                case 0x63:                                                        // GLOBAL "module\nname\n"
                    let module = try line(&r, at), name = try line(&r, at)
                    try push(try global(module, name, at), at)
                case 0x93:                                                        // STACK_GLOBAL
                    let n = try pop(at), m = try pop(at)
                    guard case .string(let module) = m, case .string(let name) = n else { throw fail(at, "STACK_GLOBAL needs two strings") }
                    try push(try global(module, name, at), at)
                case 0x52:                                                        // REDUCE
                    let args = try pop(at), callable = try pop(at)
                    try push(try reduce(callable, args, at), at)
                case 0x62:                                                        // BUILD: state of an OrderedDict or tensor is ignored
                    let state = try pop(at)
                    let target = try top(at)
                    switch target {
                    case .dict, .tensor: break
                    default: throw fail(at, "BUILD on \(target.description) with state \(state.description)")
                    }
                case 0x51:                                                        // BINPERSID
                    let pid = try pop(at)
                    try push(.storage(try persistent(pid, at)), at)
                default:
                    throw fail(at, "opcode 0x\(String(op, radix: 16)) is not allowed in a tensor checkpoint")
                }
            }
        } catch let e as TruncatedInput {
            throw fail(e.offset, "pickle ends early (\(e))")
        }
    }

    private func topSlot(_ at: Int) throws -> Slot {
        guard let v = stack.last else { throw fail(at, "stack underflow") }
        return v
    }

    private func top(_ at: Int) throws -> PickleValue { try topSlot(at).value }

    private func addPairs(_ items: [PickleValue], to d: PickleDict, _ at: Int) throws {
        guard items.count % 2 == 0 else { throw fail(at, "odd number of items for a dict") }
        for i in stride(from: 0, to: items.count, by: 2) { d.items.append((items[i], items[i + 1])) }
    }

    private func line(_ r: inout ByteReader, _ at: Int) throws -> String {
        var bytes: [UInt8] = []
        while true {
            let c = try r.readU8()
            if c == 0x0A { break }
            bytes.append(c)
            guard bytes.count < 256 else { throw fail(at, "GLOBAL name too long") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func persistent(_ pid: PickleValue, _ at: Int) throws -> TorchStorage {
        guard case .tuple(let t) = pid, t.count >= 5, case .string("storage") = t[0] else {
            throw fail(at, "persistent id \(pid.description) is not a ('storage', …) tuple")
        }
        guard case .global("torch", let typeName) = t[1], let dtype = Unpickler.storageTypes[typeName] else {
            throw fail(at, "persistent id names storage type \(t[1].description)")
        }
        guard case .string(let key) = t[2] else { throw fail(at, "storage key is not a string") }
        let count = try int(t[4], at, "storage element count")
        guard count >= 0 else { throw fail(at, "negative storage size") }
        return TorchStorage(dtype: dtype, key: key, count: count)
    }
}

import TensorCore

/// A model in Mistral's native layout: native names, q/k rows in interleaved rotary order,
/// `output.weight` present (aliased to the embeddings when tied), canonical tensor order.
public struct NativeModel {
    public var config: ModelConfig
    public var tensors: [SourceTensor]
    /// Source tensors without meaning for inference (e.g. `rotary_emb.inv_freq`).
    public var dropped: [String]
    /// The layout the checkpoint was in: `hf`, `native` or `gguf`.
    public var sourceLayout: String
    /// Tensors that are another tensor under a second name (tied `output.weight`).
    public var aliases: [String: String] = [:]

    public func tensor(_ name: String) -> SourceTensor? { tensors.first { $0.name == name } }
}

package enum Layout {
    /// Which name map fits these tensor names.
    package static func detect(_ names: [String]) -> String {
        if names.contains(where: { $0.hasPrefix("model.") || $0 == "lm_head.weight" }) { return "hf" }
        if names.contains(where: { $0.hasPrefix("blk.") || $0 == "token_embd.weight" }) { return "gguf" }
        return "native"
    }

    /// Renames, un-permutes, drops, ties and checks completeness.
    package static func toNative(_ tensors: [SourceTensor], config: ModelConfig, layout: String? = nil) throws -> NativeModel {
        let layout = layout ?? detect(tensors.map(\.name))
        let map = try NameMap.named(layout)
        let native = try NameMap.named("native")
        var out: [SourceTensor] = []
        var dropped: [String] = []
        var unknown: [String] = []
        var seen: [String: String] = [:]
        // The un-permuted copies' memory, recycled while this model's tensors are loaded one
        // after another (every row is written, so nothing is zeroed).
        let copies = BufferPool(keep: 2)
        for t in tensors {
            if map.isDropped(t.name) { dropped.append(t.name); continue }
            guard let (rule, name) = map.map(t.name) else { unknown.append(t.name); continue }
            if let first = seen[name] { throw CheckpointError.duplicateTensor(name: name, files: [first, t.origin]) }
            seen[name] = t.origin
            var n = t
            n.name = name
            if let field = rule.unpermute {
                let heads: Int
                switch field {
                case "n_heads": heads = config.nHeads
                case "n_kv_heads": heads = config.nKVHeads
                default: throw CheckpointError.layout("name map \(layout): unknown unpermute field \(field)")
                }
                n = try unpermuted(n, heads: heads, headDim: config.headDim, pool: copies)
            }
            out.append(n)
        }
        guard unknown.isEmpty else { throw CheckpointError.unknownTensors(layout: layout, names: unknown) }
        var aliases: [String: String] = [:]
        if seen["output.weight"] == nil, config.tieEmbeddings, var e = out.first(where: { $0.name == "tok_embeddings.weight" }) {
            e.name = "output.weight"
            out.append(e)
            aliases["output.weight"] = "tok_embeddings.weight"
        }
        try checkRequired(Set(out.map(\.name)), config: config, native: native)
        // Keys computed once per tensor, not twice per comparison (each splits and matches the name).
        out = out.map { (native.sortKey(native: $0.name), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        return NativeModel(config: config, tensors: out, dropped: dropped, sourceLayout: layout, aliases: aliases)
    }

    /// Missing names listed in the error; the rest are counted.
    static let listedMissing = 10

    /// Every required name is present. The error lists the first `listedMissing` missing names
    /// and the count: a config may declare 2^16 layers over a file that holds two, and a layer
    /// with no tensor at all past the listed names is counted, not spelled out.
    static func checkRequired(_ have: Set<String>, config: ModelConfig, native: NameMap) throws {
        var missing: [String] = []
        var count = 0
        func miss(_ name: @autoclosure () -> String) {
            count += 1
            if missing.count < listedMissing { missing.append(name()) }
        }
        for n in native.required["model"] ?? [] where !have.contains(n) { miss(n) }
        let patterns = (native.required["layer"] ?? [])
            + (config.moe == nil ? (native.required["dense_ffn"] ?? []) : (native.required["moe_ffn"] ?? []))
        let perLayer = patterns.reduce(0) { n, p in n + (p.contains("{E}") ? config.moe?.numExperts ?? 1 : 1) }
        let present = Set(have.compactMap(layerIndex))
        let perLayerNames = patterns.allSatisfy { $0.hasPrefix("layers.{N}.") }
        for layer in 0..<config.nLayers {
            let absent = perLayerNames && !present.contains(layer)
            if missing.count == listedMissing && absent {
                count += perLayer
                continue
            }
            for p in patterns {
                if p.contains("{E}"), let moe = config.moe {
                    // Experts may be separate tensors or one stacked tensor per projection.
                    let stacked = NameMap.fill(p, ["{N}": "\(layer)"]).replacingExpertIndex()
                    if have.contains(stacked) { continue }
                    for e in 0..<moe.numExperts {
                        if absent && missing.count == listedMissing {
                            count += moe.numExperts - e
                            break
                        }
                        let n = NameMap.fill(p, ["{N}": "\(layer)", "{E}": "\(e)"])
                        if !have.contains(n) { miss(n) }
                    }
                } else {
                    let n = NameMap.fill(p, ["{N}": "\(layer)"])
                    if !have.contains(n) { miss(n) }
                }
            }
        }
        guard count == 0 else { throw CheckpointError.missingTensors(missing, total: count > missing.count ? count : nil) }
    }

    /// N of a native `layers.N.…` name.
    static func layerIndex(_ name: String) -> Int? {
        guard name.hasPrefix("layers.") else { return nil }
        return Int(name.dropFirst("layers.".count).prefix { $0 != "." })
    }

    /// Undoes Hugging Face's rotary permutation of q/k rows. HF stores, for each head, first the
    /// even then the odd rotary components (`view(h, 2, d/2, …).transpose`); native order
    /// interleaves them: native row h·d + 2i + p = HF row h·d + p·d/2 + i.
    /// The copy's memory comes from `pool` (a fresh zero-filled copy of every q and k matrix was
    /// a page fault, the kernel's clearing and a memset per page).
    static func unpermuted(_ t: SourceTensor, heads: Int, headDim: Int, pool: BufferPool) throws -> SourceTensor {
        guard t.shape.count == 2, t.shape[0] == heads * headDim, headDim % 2 == 0 else {
            throw CheckpointError.invalidTensor(path: t.origin, tensor: t.name,
                detail: "shape \(t.shape) does not have \(heads) heads × \(headDim) rows (an even head size) to un-permute")
        }
        var n = t
        let base = t.load
        let rowBytes = try t.dtype.rowBytes(t.shape[1])
        n.load = {
            let src = try base()
            return try pool.region(count: src.count) { dst in src.withBytes { srcBytes in
                guard let s = srcBytes.baseAddress, let d = dst.baseAddress else { return }
                let half = headDim / 2
                for h in 0..<heads {
                    for i in 0..<half {
                        for p in 0..<2 {
                            let nativeRow = h * headDim + 2 * i + p
                            let hfRow = h * headDim + p * half + i
                            (d + nativeRow * rowBytes).copyMemory(from: s + hfRow * rowBytes, byteCount: rowBytes)
                        }
                    }
                }
                // The permuted copy replaces the source: let its mapped pages go.
                src.dropPages()
            } }
        }
        return n
    }
}

private extension String {
    /// `layers.3.feed_forward.experts.{E}.w1.weight` → `layers.3.feed_forward.experts.w1.weight`.
    func replacingExpertIndex() -> String {
        split(separator: ".").filter { $0 != "{E}" }.joined(separator: ".")
    }
}

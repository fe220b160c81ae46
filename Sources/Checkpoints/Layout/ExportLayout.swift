import TensorCore

/// One tensor of an exported checkpoint: which native tensor (or which expert of a stacked one)
/// it holds, under which name, and whether its rows go back into Hugging Face's rotary order.
package struct ExportTensor {
    package var name: String
    package var source: SourceTensor
    /// The output's shape (one expert's `[rows, cols]` when `expert` is set).
    package var shape: [Int]
    /// For a stacked `[E, rows, cols]` source: which expert this output is.
    package var expert: Int?
    /// Re-permute q/k rows to HF's order: (heads, head dimension).
    package var permute: (heads: Int, headDim: Int)?

    package var rows: Int { shape.count >= 2 ? shape.dropLast().reduce(1, *) : 1 }
    package var columns: Int { shape.last ?? 1 }

    /// The source row that output row `r` is.
    package func sourceRow(_ r: Int) -> Int {
        guard let (_, d) = permute else { return r }
        // Inverse of `Layout.unpermuted`: HF row h·d + p·d/2 + i is native row h·d + 2i + p.
        let h = r / d, within = r % d, half = d / 2
        let p = within / half, i = within % half
        return h * d + 2 * i + p
    }
}

/// The way back out of Mistral's native layout: the name maps of `formats/names` read from the
/// native side, HF's rotary permutation re-applied, stacked experts split into one tensor each.
package enum ExportLayout {
    /// The tensors of `model` as `layout` (`hf` or `native`) names them, in the model's
    /// canonical order (tied `output.weight` left out: the config says it is tied).
    package static func plan(_ model: NativeModel, layout: String) throws -> [ExportTensor] {
        let map = try NameMap.named(layout)
        let config = model.config
        var out: [ExportTensor] = []
        for t in model.tensors where model.aliases[t.name] == nil {
            if t.shape.count == 3, let (pattern, layer) = stackedExperts(t.name) {
                guard let moe = config.moe, t.shape[0] == moe.numExperts else {
                    throw CheckpointError.invalidTensor(path: t.origin, tensor: t.name, detail: "shape \(t.shape) is not \(config.moe?.numExperts ?? 0) stacked experts")
                }
                for e in 0..<t.shape[0] {
                    let native = NameMap.fill(pattern, ["{N}": layer, "{E}": "\(e)"])
                    out.append(ExportTensor(name: try map.sourceName(native: native), source: t, shape: Array(t.shape.dropFirst()), expert: e))
                }
                continue
            }
            var x = ExportTensor(name: try map.sourceName(native: t.name), source: t, shape: t.shape)
            if let field = map.source(forNative: t.name)?.0.unpermute {
                let heads = field == "n_kv_heads" ? config.nKVHeads : config.nHeads
                guard t.shape.count == 2, t.shape[0] == heads * config.headDim else {
                    throw CheckpointError.invalidTensor(path: t.origin, tensor: t.name, detail: "shape \(t.shape) does not have \(heads) heads × \(config.headDim) rows to permute")
                }
                x.permute = (heads, config.headDim)
            }
            out.append(x)
        }
        return out
    }

    /// `layers.3.feed_forward.experts.w1.weight` → (`layers.{N}.feed_forward.experts.{E}.w1.weight`, "3").
    static func stackedExperts(_ name: String) -> (String, String)? {
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count == 6, parts[0] == "layers", parts[2] == "feed_forward", parts[3] == "experts", Int(parts[1]) != nil,
              ["w1", "w2", "w3"].contains(parts[4]) else { return nil }
        return ("layers.{N}.feed_forward.experts.{E}.\(parts[4]).weight", parts[1])
    }
}

extension NameMap {
    /// The name this layout gives a native tensor (`source(forNative:)`, the map read
    /// backwards), or an error naming the tensor.
    package func sourceName(native name: String) throws -> String {
        guard let (_, source) = source(forNative: name) else { throw CheckpointError.layout("name map \(layout) has no name for the native tensor \(name)") }
        return source
    }
}

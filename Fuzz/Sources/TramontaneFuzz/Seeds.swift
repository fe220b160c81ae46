import Foundation
import ModelFile
import TensorCore

/// Small synthetic seeds that no fixture provides in a small size: `.tmt` files in each codec
/// (the fixtures hold none), and a two-tensor safetensors / importance matrix.
/// Run by scripts/fuzz.sh as `TRAMONTANE_FUZZ=make-seeds TRAMONTANE_FUZZ_SEEDS=<dir> tramontane-fuzz -runs=1`.
func makeSeeds(into dir: String) throws {
    let fm = FileManager.default
    for sub in ["tmt", "safetensors", "imatrix"] { try fm.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true) }
    let values: [Float] = (0..<96).map { Float($0) * 0.25 - 7 }
    for codec in TMTCodec.allCases {
        for chunk in [65536] {
            let path = "\(dir)/tmt/\(codec.rawValue)-\(chunk).tmt"
            try? fm.removeItem(atPath: path)
            let w = try TMTWriter(path: path, options: TMTWriterOptions(codec: codec, chunkSize: chunk, threads: 1))
            try values.withUnsafeBytes { try w.addTensor(name: "tok_embeddings.weight", dtype: .f32, shape: [8, 12], bytes: $0) }
            let half = values.prefix(32).map { Float16($0) }
            try half.withUnsafeBytes { try w.addTensor(name: "norm.weight", dtype: .f16, shape: [32], bytes: $0) }
            try Array("{\"dim\": 12}".utf8).withUnsafeBytes { try w.addBlob(name: "params.json", bytes: $0) }
            try w.finish(metadata: .object(["config": .object(["dim": .int(12)]), "format": .string("tmt")]))
        }
    }
    func safetensors(_ tensors: [(String, [Int])]) -> [UInt8] {
        var header = "{\"__metadata__\":{\"format\":\"pt\"}", data: [UInt8] = []
        for (name, shape) in tensors {
            let n = shape.reduce(1, *)
            header += ",\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(data.count),\(data.count + 4 * n)]}"
            for v in values.prefix(n) { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        }
        header += "}"
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out += $0 }
        return out + Array(header.utf8) + data
    }
    _ = fm.createFile(atPath: dir + "/safetensors/two.safetensors",
                  contents: Data(safetensors([("model.embed_tokens.weight", [4, 6]), ("model.norm.weight", [6])])))
    _ = fm.createFile(atPath: dir + "/imatrix/two.safetensors",
                  contents: Data(safetensors([("layers.0.attention.wq.weight", [12]), ("output.weight", [12])])))
}

#!/usr/bin/env python3
"""Writes the two F32 GGUF inputs of the quantization benchmark (gguf-py + numpy):
  smollm2-f32.gguf   SmolLM2-135M with every tensor dequantized to f32 (metadata kept)
  mistral7b-layer-f32.gguf  a 1-layer llama-architecture model with Mistral-7B shapes
                            (dim 4096, FFN 14336, 32/8 heads, vocab 32000), Gaussian weights
Usage: make_inputs.py SMOLLM2_GGUF OUT_DIR"""
import os, sys
import numpy as np
import gguf
from gguf import GGUFReader, GGUFWriter, GGMLQuantizationType
from gguf.quants import dequantize

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

def copy_metadata(reader, writer):
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture" or name == "general.file_type":
            continue
        vt = field.types[0]
        if vt == gguf.GGUFValueType.ARRAY:
            writer.add_array(name, field.contents())
        else:
            writer.add_key_value(name, field.contents(), vt)

path = os.path.join(out, "smollm2-f32.gguf")
if not os.path.exists(path):
    r = GGUFReader(src)
    w = GGUFWriter(path, "llama")
    copy_metadata(r, w)
    w.add_file_type(0)
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float32)
        w.add_tensor(t.name, a.reshape([int(x) for x in reversed(t.shape)]), raw_dtype=GGMLQuantizationType.F32)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

path = os.path.join(out, "mistral7b-layer-f32.gguf")
if not os.path.exists(path):
    dim, ffn, heads, kv, vocab = 4096, 14336, 32, 8, 32000
    rng = np.random.default_rng(11)
    def g(*shape, std=0.02):
        a = rng.standard_normal(size=shape, dtype=np.float32) * np.float32(std)
        # a few outlier input channels, as trained models have
        a[..., :8] *= 8
        return a
    w = GGUFWriter(path, "llama")
    w.add_context_length(4096); w.add_embedding_length(dim); w.add_block_count(1)
    w.add_feed_forward_length(ffn); w.add_head_count(heads); w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(1e-5); w.add_rope_freq_base(1e6); w.add_file_type(0)
    w.add_tokenizer_model("llama"); w.add_vocab_size(vocab)
    w.add_token_list([f"<t{i}>" for i in range(vocab)]); w.add_token_scores([0.0] * vocab); w.add_token_types([1] * vocab)
    w.add_tensor("token_embd.weight", g(vocab, dim))
    w.add_tensor("output_norm.weight", np.ones(dim, dtype=np.float32))
    w.add_tensor("output.weight", g(vocab, dim))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(dim, dtype=np.float32))
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(dim, dtype=np.float32))
    w.add_tensor("blk.0.attn_q.weight", g(dim, dim))
    w.add_tensor("blk.0.attn_k.weight", g(kv * 128, dim))
    w.add_tensor("blk.0.attn_v.weight", g(kv * 128, dim))
    w.add_tensor("blk.0.attn_output.weight", g(dim, dim))
    w.add_tensor("blk.0.ffn_gate.weight", g(ffn, dim))
    w.add_tensor("blk.0.ffn_up.weight", g(ffn, dim))
    w.add_tensor("blk.0.ffn_down.weight", g(dim, ffn))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

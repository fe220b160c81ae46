#!/usr/bin/env python3
"""Writes a synthetic Hugging Face checkpoint with Mistral-7B tensor shapes (dim 4096, FFN 14336,
32 heads, 8 KV heads, vocab 32000) in BF16, sharded with model.safetensors.index.json.
Weights are Gaussian (std 0.02), norms near 1. Usage: make_synthetic.py OUT_DIR [N_LAYERS]
(6 layers + embeddings + output = 3.14 GB)."""
import json, os, struct, sys
import numpy as np

out = sys.argv[1]
layers = int(sys.argv[2]) if len(sys.argv) > 2 else 6
dim, ffn, heads, kv, vocab = 4096, 14336, 32, 8, 32000
hd = dim // heads
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)

def bf16(shape, std=0.02, mean=0.0):
    x = rng.standard_normal(size=shape, dtype=np.float32) * np.float32(std) + np.float32(mean)
    b = x.view(np.uint32)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype("<u2")   # round to nearest even

def tensors_for(shard):
    if shard == 0:
        yield "model.embed_tokens.weight", (vocab, dim), 0.02, 0.0
    for n in range(layers):
        if n // 2 != shard:
            continue
        p = f"model.layers.{n}."
        yield p + "input_layernorm.weight", (dim,), 0.05, 1.0
        yield p + "self_attn.q_proj.weight", (heads * hd, dim), 0.02, 0.0
        yield p + "self_attn.k_proj.weight", (kv * hd, dim), 0.02, 0.0
        yield p + "self_attn.v_proj.weight", (kv * hd, dim), 0.02, 0.0
        yield p + "self_attn.o_proj.weight", (dim, heads * hd), 0.02, 0.0
        yield p + "post_attention_layernorm.weight", (dim,), 0.05, 1.0
        yield p + "mlp.gate_proj.weight", (ffn, dim), 0.02, 0.0
        yield p + "mlp.up_proj.weight", (ffn, dim), 0.02, 0.0
        yield p + "mlp.down_proj.weight", (dim, ffn), 0.02, 0.0
    if shard == (layers - 1) // 2:
        yield "model.norm.weight", (dim,), 0.05, 1.0
        yield "lm_head.weight", (vocab, dim), 0.02, 0.0

shards = (layers + 1) // 2
weight_map = {}
for s in range(shards):
    name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
    specs = list(tensors_for(s))
    header, offset = {}, 0
    for tname, shape, _, _ in specs:
        n = int(np.prod(shape)) * 2
        header[tname] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
        weight_map[tname] = name
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for tname, shape, std, mean in specs:
            f.write(bf16(shape, std, mean).tobytes())
    print(name, offset / 1e9, "GB", file=sys.stderr)

json.dump({"metadata": {"total_size": sum(1 for _ in weight_map)}, "weight_map": weight_map},
          open(os.path.join(out, "model.safetensors.index.json"), "w"), indent=1)
json.dump({"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": dim,
           "intermediate_size": ffn, "num_attention_heads": heads, "num_key_value_heads": kv,
           "num_hidden_layers": layers, "vocab_size": vocab, "rms_norm_eps": 1e-5, "rope_theta": 1e6,
           "sliding_window": 4096, "tie_word_embeddings": False, "head_dim": hd},
          open(os.path.join(out, "config.json"), "w"), indent=1)

#!/usr/bin/env python3
"""Writes a synthetic Hugging Face checkpoint with the exact tensor shapes of Mistral-7B v0.1,
Mistral-Nemo-12B or Mixtral-8x7B: BF16 safetensors, one shard per layer (plus one for the
embeddings and one for the head), model.safetensors.index.json, config.json and the model's
tokenizer file from mistral-common (copied from the paths given).

Weights are Gaussian (std 0.02) with four outlier input columns per matrix (×8), norms near 1:
text is noise, but sizes, speed, memory and numerics are those of the real model. Each tensor is
written in slices of at most 32 MiB, so memory stays bounded whatever the model size.

Usage: make_checkpoint.py OUT_DIR MODEL [LAYERS] --tokenizer FILE
MODEL: mistral-7b | nemo-12b | mixtral-8x7b; LAYERS defaults to the real count."""
import argparse, json, os, shutil, struct, sys
import numpy as np

MODELS = {
    # dim, ffn, heads, kv heads, head_dim, vocab, layers, experts, rope theta, sliding window
    "mistral-7b": dict(dim=4096, ffn=14336, heads=32, kv=8, hd=128, vocab=32000, layers=32, experts=0,
                       theta=10000.0, window=4096),
    "nemo-12b": dict(dim=5120, ffn=14336, heads=32, kv=8, hd=128, vocab=131072, layers=40, experts=0,
                     theta=1000000.0, window=None),
    "mixtral-8x7b": dict(dim=4096, ffn=14336, heads=32, kv=8, hd=128, vocab=32000, layers=32, experts=8,
                         theta=1000000.0, window=None),
}

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("model", choices=sorted(MODELS))
ap.add_argument("layers", type=int, nargs="?")
ap.add_argument("--tokenizer", required=True, help="tokenizer.model or tekken.json to copy into the folder")
args = ap.parse_args()
m = MODELS[args.model]
layers = args.layers or m["layers"]
dim, ffn, hd = m["dim"], m["ffn"], m["hd"]
os.makedirs(args.out, exist_ok=True)
rng = np.random.default_rng(7)


def layer_tensors(n):
    p = f"model.layers.{n}."
    yield p + "input_layernorm.weight", (dim,), "norm"
    yield p + "self_attn.q_proj.weight", (m["heads"] * hd, dim), "w"
    yield p + "self_attn.k_proj.weight", (m["kv"] * hd, dim), "w"
    yield p + "self_attn.v_proj.weight", (m["kv"] * hd, dim), "w"
    yield p + "self_attn.o_proj.weight", (dim, m["heads"] * hd), "w"
    yield p + "post_attention_layernorm.weight", (dim,), "norm"
    if m["experts"]:
        yield p + "block_sparse_moe.gate.weight", (m["experts"], dim), "w"
        for e in range(m["experts"]):
            q = p + f"block_sparse_moe.experts.{e}."
            yield q + "w1.weight", (ffn, dim), "w"
            yield q + "w2.weight", (dim, ffn), "w"
            yield q + "w3.weight", (ffn, dim), "w"
    else:
        yield p + "mlp.gate_proj.weight", (ffn, dim), "w"
        yield p + "mlp.up_proj.weight", (ffn, dim), "w"
        yield p + "mlp.down_proj.weight", (dim, ffn), "w"


shards = [[("model.embed_tokens.weight", (m["vocab"], dim), "w")]]
shards += [list(layer_tensors(n)) for n in range(layers)]
shards += [[("model.norm.weight", (dim,), "norm"), ("lm_head.weight", (m["vocab"], dim), "w")]]


def bf16(x):
    b = x.view(np.uint32)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype("<u2")   # round to nearest even


def write_tensor(f, shape, kind):
    if kind == "norm":
        f.write(bf16((rng.standard_normal(shape[0], dtype=np.float32) * np.float32(0.05) + 1).astype(np.float32)).tobytes())
        return
    rows, cols = shape
    outliers = rng.choice(cols, size=min(4, cols), replace=False)
    scale = np.ones(cols, dtype=np.float32)
    scale[outliers] = 8
    scale *= np.float32(0.02)
    step = max(1, (32 << 20) // (4 * cols))
    for r0 in range(0, rows, step):
        x = rng.standard_normal((min(step, rows - r0), cols), dtype=np.float32) * scale
        f.write(bf16(x).tobytes())


weight_map, total = {}, 0
for s, specs in enumerate(shards):
    name = f"model-{s + 1:05d}-of-{len(shards):05d}.safetensors"
    path = os.path.join(args.out, name)
    header, offset = {}, 0
    for tname, shape, _ in specs:
        n = int(np.prod(shape)) * 2
        header[tname] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
        weight_map[tname] = name
    total += offset
    if os.path.exists(path) and os.path.getsize(path) >= offset:
        continue   # resumable: a complete shard from an earlier run is kept
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".part", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, shape, kind in specs:
            write_tensor(f, shape, kind)
    os.replace(path + ".part", path)
    print(f"{name} {offset / 1e9:.2f} GB", file=sys.stderr, flush=True)

json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
          open(os.path.join(args.out, "model.safetensors.index.json"), "w"), indent=1)
config = {"architectures": ["MixtralForCausalLM" if m["experts"] else "MistralForCausalLM"],
          "model_type": "mixtral" if m["experts"] else "mistral", "hidden_size": dim,
          "intermediate_size": ffn, "num_attention_heads": m["heads"], "num_key_value_heads": m["kv"],
          "head_dim": hd, "num_hidden_layers": layers, "vocab_size": m["vocab"], "rms_norm_eps": 1e-5,
          "rope_theta": m["theta"], "sliding_window": m["window"], "tie_word_embeddings": False,
          "max_position_embeddings": 32768, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}
if m["experts"]:
    config.update(num_local_experts=m["experts"], num_experts_per_tok=2)
json.dump(config, open(os.path.join(args.out, "config.json"), "w"), indent=1)
tok = os.path.basename(args.tokenizer)
shutil.copy(args.tokenizer, os.path.join(args.out, "tekken.json" if tok.startswith("tekken") else "tokenizer.model"))
print(f"{args.model}: {layers} layers, {total / 1e9:.2f} GB of BF16 in {len(shards)} shards", file=sys.stderr)

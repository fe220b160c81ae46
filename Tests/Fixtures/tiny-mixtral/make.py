"""Makes the tiny Mixtral fixture (run once with torch + transformers; the test suite does not).

A random-initialised MixtralForCausalLM: vocab 256, dim 64, 2 layers, 8 query heads, 2 KV heads,
head_dim 8, 4 experts of FFN 96, 2 experts per token, no sliding window, untied output. Every
weight is rounded to bf16 and stored as bf16 (`hf-bf16/`, Hugging Face layout with config.json)
and as F32 in a GGUF laid out as llama.cpp converts Mixtral (`gguf-stacked/`);
the oracle runs the same numbers in float32 with eager attention and writes
`reference-logits.safetensors`: `random.input_ids` (40 ids, BOS first), `random.logits`
[40, 256], and `random.greedy_ids` (24 greedy ids after the first 16 input ids).

Usage: python make.py OUT_DIR   (transformers 5.x, torch 2.x)
"""
import json, os, sys
import torch
from safetensors.torch import save_file
from transformers import MixtralConfig, MixtralForCausalLM

out = sys.argv[1]
torch.manual_seed(20261127)
cfg = MixtralConfig(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                    num_attention_heads=8, num_key_value_heads=2, head_dim=8, num_local_experts=4,
                    num_experts_per_tok=2, sliding_window=None, max_position_embeddings=1024,
                    rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
                    bos_token_id=1, eos_token_id=2, router_jitter_noise=0.0)
cfg._attn_implementation = "eager"
model = MixtralForCausalLM(cfg).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if p.dim() == 1:
            p.copy_(1 + 0.2 * torch.randn_like(p))           # RMSNorm gains, not all ones
        elif "gate" in name and "experts" not in name:
            p.copy_(0.5 * torch.randn_like(p))               # a router that makes real choices
        else:
            p.copy_(0.08 * torch.randn_like(p))
        p.copy_(p.to(torch.bfloat16).to(torch.float32))      # exactly representable in bf16

# Saved in the layout Mixtral checkpoints on the Hub use (transformers 5 fuses the experts in
# memory): model.layers.N.block_sparse_moe.gate.weight and .experts.E.w1/w2/w3.weight, with
# w1 = the gate half of gate_up_proj, w3 = the up half, w2 = down_proj.
os.makedirs(os.path.join(out, "hf-bf16"), exist_ok=True)
state = {}
H = cfg.intermediate_size
for k, v in model.state_dict().items():
    if ".mlp.experts.gate_up_proj" in k:
        base = k.replace(".mlp.experts.gate_up_proj", ".block_sparse_moe.experts")
        for e in range(v.shape[0]):
            state[f"{base}.{e}.w1.weight"] = v[e, :H]
            state[f"{base}.{e}.w3.weight"] = v[e, H:]
    elif ".mlp.experts.down_proj" in k:
        base = k.replace(".mlp.experts.down_proj", ".block_sparse_moe.experts")
        for e in range(v.shape[0]):
            state[f"{base}.{e}.w2.weight"] = v[e]
    elif ".mlp.gate.weight" in k:
        state[k.replace(".mlp.gate.", ".block_sparse_moe.gate.")] = v
    else:
        state[k] = v
state = {k: v.to(torch.bfloat16).contiguous() for k, v in state.items()}
save_file(state, os.path.join(out, "hf-bf16", "model.safetensors"), metadata={"format": "pt"})
conf = {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "vocab_size": 256,
        "hidden_size": 64, "intermediate_size": H, "num_hidden_layers": 2, "num_attention_heads": 8,
        "num_key_value_heads": 2, "head_dim": 8, "num_local_experts": 4, "num_experts_per_tok": 2,
        "sliding_window": None, "max_position_embeddings": 1024, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-5, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "torch_dtype": "bfloat16"}
with open(os.path.join(out, "hf-bf16", "config.json"), "w") as f:
    json.dump(conf, f, indent=2, sort_keys=True)

# The same weights as llama.cpp's convert_hf_to_gguf.py lays them out for Mixtral: `llama`
# architecture with expert_count, q/k rows back in the interleaved rotary order, the router as
# ffn_gate_inp and the experts stacked [experts, rows, columns] as ffn_{gate,up,down}_exps. F32.
import gguf, numpy as np
def unpermute(w, heads):   # HF's rotate-half row order → interleaved pairs (llama.cpp's permute)
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
os.makedirs(os.path.join(out, "gguf-stacked"), exist_ok=True)
g = gguf.GGUFWriter(os.path.join(out, "gguf-stacked", "tiny-mixtral.gguf"), "llama")
g.add_context_length(1024); g.add_embedding_length(64); g.add_block_count(2)
g.add_feed_forward_length(H); g.add_head_count(8); g.add_head_count_kv(2)
g.add_rope_freq_base(10000.0); g.add_layer_norm_rms_eps(1e-5); g.add_expert_count(4); g.add_expert_used_count(2)
g.add_vocab_size(256)
f32 = lambda t: t.float().numpy()
sd = model.state_dict()
g.add_tensor("token_embd.weight", f32(sd["model.embed_tokens.weight"]))
g.add_tensor("output_norm.weight", f32(sd["model.norm.weight"]))
g.add_tensor("output.weight", f32(sd["lm_head.weight"]))
for n in range(2):
    p = f"model.layers.{n}."
    g.add_tensor(f"blk.{n}.attn_norm.weight", f32(sd[p + "input_layernorm.weight"]))
    g.add_tensor(f"blk.{n}.attn_q.weight", unpermute(f32(sd[p + "self_attn.q_proj.weight"]), 8))
    g.add_tensor(f"blk.{n}.attn_k.weight", unpermute(f32(sd[p + "self_attn.k_proj.weight"]), 2))
    g.add_tensor(f"blk.{n}.attn_v.weight", f32(sd[p + "self_attn.v_proj.weight"]))
    g.add_tensor(f"blk.{n}.attn_output.weight", f32(sd[p + "self_attn.o_proj.weight"]))
    g.add_tensor(f"blk.{n}.ffn_norm.weight", f32(sd[p + "post_attention_layernorm.weight"]))
    g.add_tensor(f"blk.{n}.ffn_gate_inp.weight", f32(sd[p + "mlp.gate.weight"]))
    gu = f32(sd[p + "mlp.experts.gate_up_proj"])
    g.add_tensor(f"blk.{n}.ffn_gate_exps.weight", np.ascontiguousarray(gu[:, :H]))
    g.add_tensor(f"blk.{n}.ffn_up_exps.weight", np.ascontiguousarray(gu[:, H:]))
    g.add_tensor(f"blk.{n}.ffn_down_exps.weight", f32(sd[p + "mlp.experts.down_proj"]))
g.write_header_to_file(); g.write_kv_data_to_file(); g.write_tensors_to_file(); g.close()

ids = torch.cat([torch.tensor([1]), torch.randint(3, 256, (39,))]).unsqueeze(0)
with torch.no_grad():
    logits = model(ids).logits[0].float()
    seq = ids[:, :16]
    greedy = []
    for _ in range(24):
        nxt = int(model(seq).logits[0, -1].argmax())
        greedy.append(nxt)
        seq = torch.cat([seq, torch.tensor([[nxt]])], dim=1)
save_file({"random.input_ids": ids[0].to(torch.int64), "random.logits": logits.contiguous(),
           "random.greedy_ids": torch.tensor(greedy, dtype=torch.int64)},
          os.path.join(out, "reference-logits.safetensors"))
print("wrote", out, "greedy", greedy)

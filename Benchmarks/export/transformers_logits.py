#!/usr/bin/env python3
"""Run a safetensors export (`tramontane export MODEL -o DIR --to safetensors`) in transformers
(float32, CPU) and write `eval.input_ids` / `eval.logits` for Tramontane's
`validate --against-logits`. With --native, DIR is a Mistral native export
(consolidated.safetensors + params.json), turned into a transformers model here the way
transformers' convert_mistral_weights_to_hf.py does (rename, permute q/k for HF's rotary).

Usage: transformers_logits.py DIR --ids 1,2,3 -o OUT.safetensors [--native]
Needs: pip install torch transformers safetensors numpy
"""
import argparse
import json
import os

import numpy as np
import torch
from safetensors.numpy import save_file
from safetensors.torch import load_file


def ids(s):
    return [int(x) for x in s.replace(",", " ").split()]


def native_to_hf(folder):
    from transformers import MistralConfig, MixtralConfig

    p = json.load(open(os.path.join(folder, "params.json")))
    w = load_file(os.path.join(folder, "consolidated.safetensors"))
    dim, heads, kv = p["dim"], p["n_heads"], p.get("n_kv_heads", p["n_heads"])
    hd = p.get("head_dim", dim // heads)

    def permute(t, h):  # native interleaved rotary rows -> HF halves
        return t.view(h, hd // 2, 2, t.shape[1]).transpose(1, 2).reshape(h * hd, t.shape[1])

    moe = p.get("moe")
    kw = dict(hidden_size=dim, intermediate_size=p["hidden_dim"], num_hidden_layers=p["n_layers"], num_attention_heads=heads,
              num_key_value_heads=kv, head_dim=hd, rms_norm_eps=p["norm_eps"], rope_theta=p.get("rope_theta", 10000.0),
              vocab_size=p["vocab_size"], sliding_window=p.get("sliding_window"), tie_word_embeddings=p.get("tied_embeddings", False))
    if moe:
        config = MixtralConfig(num_local_experts=moe["num_experts"], num_experts_per_tok=moe["num_experts_per_tok"], **kw)
    else:
        config = MistralConfig(**kw)
    sd = {"model.embed_tokens.weight": w["tok_embeddings.weight"], "model.norm.weight": w["norm.weight"]}
    if "output.weight" in w:
        sd["lm_head.weight"] = w["output.weight"]
    for i in range(p["n_layers"]):
        a, m = f"layers.{i}.", f"model.layers.{i}."
        sd[m + "input_layernorm.weight"] = w[a + "attention_norm.weight"]
        sd[m + "post_attention_layernorm.weight"] = w[a + "ffn_norm.weight"]
        sd[m + "self_attn.q_proj.weight"] = permute(w[a + "attention.wq.weight"], heads)
        sd[m + "self_attn.k_proj.weight"] = permute(w[a + "attention.wk.weight"], kv)
        sd[m + "self_attn.v_proj.weight"] = w[a + "attention.wv.weight"]
        sd[m + "self_attn.o_proj.weight"] = w[a + "attention.wo.weight"]
        if moe:
            sd[m + "block_sparse_moe.gate.weight"] = w[a + "feed_forward.gate.weight"]
            for e in range(moe["num_experts"]):
                for n in ("w1", "w2", "w3"):
                    sd[m + f"block_sparse_moe.experts.{e}.{n}.weight"] = w[a + f"feed_forward.experts.{e}.{n}.weight"]
        else:
            sd[m + "mlp.gate_proj.weight"] = w[a + "feed_forward.w1.weight"]
            sd[m + "mlp.down_proj.weight"] = w[a + "feed_forward.w2.weight"]
            sd[m + "mlp.up_proj.weight"] = w[a + "feed_forward.w3.weight"]
    # Written out as a Hugging Face checkpoint and loaded by transformers' own loader, which
    # converts the per-expert names into whatever layout its Mixtral holds.
    import tempfile
    from safetensors.torch import save_file as save_torch
    from transformers import AutoModelForCausalLM
    tmp = tempfile.mkdtemp()
    config.architectures = ["MixtralForCausalLM" if moe else "MistralForCausalLM"]
    config.save_pretrained(tmp)
    save_torch({k: v.float().contiguous() for k, v in sd.items()}, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    return AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--ids", required=True)
    ap.add_argument("--native", action="store_true")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    torch.manual_seed(0)
    if a.native:
        model = native_to_hf(a.model)
    else:
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    model = model.float().eval()
    x = ids(a.ids)
    with torch.no_grad():
        logits = model(torch.tensor([x])).logits[0].float().numpy()
    save_file({"eval.input_ids": np.array(x, dtype=np.int32), "eval.logits": np.ascontiguousarray(logits)}, a.output)
    print(type(model).__name__, logits.shape)


if __name__ == "__main__":
    main()

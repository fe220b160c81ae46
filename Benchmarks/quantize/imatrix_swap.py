#!/usr/bin/env python3
"""Rewrites an importance matrix from one tool's file format into the other's, so each tool's
quantizer can run with the other's calibration data (side_by_side.sh SWAP=1):

  imatrix_swap.py llama.imatrix.gguf ours-from-llama.imatrix.safetensors
      llama-imatrix's GGUF (NAME.in_sum2 / NAME.counts) -> formats/imatrix.md
  imatrix_swap.py ours.imatrix.safetensors llama-from-ours.imatrix.gguf
      formats/imatrix.md (means) -> llama.cpp's GGUF, sums = mean x T, counts = T, for the T
      calibration tokens its metadata records

Names: blk.N.attn_q.weight <-> layers.N.attention.wq.weight and so on; the tensors only one
tool records (llama-imatrix leaves out output.weight without --process-output) stay out."""
import sys

import numpy as np

PARTS = {"attn_q": "attention.wq", "attn_k": "attention.wk", "attn_v": "attention.wv",
         "attn_output": "attention.wo", "ffn_gate": "feed_forward.w1", "ffn_down": "feed_forward.w2",
         "ffn_up": "feed_forward.w3"}


def native(name):
    if name == "output.weight":
        return name
    p = name.split(".")
    return f"layers.{p[1]}.{PARTS[p[2]]}.weight"


def ggml(name):
    if name == "output.weight":
        return name
    p = name.split(".")
    back = {v: k for k, v in PARTS.items()}
    return f"blk.{p[1]}.{back[p[2] + '.' + p[3]]}.weight"


def llama_to_ours(src, dst):
    from gguf import GGUFReader
    from safetensors.numpy import save_file
    r = GGUFReader(src)
    t = {x.name: np.asarray(x.data, dtype=np.float32).reshape(-1) for x in r.tensors}
    out = {}
    for n, sums in t.items():
        if not n.endswith(".in_sum2"):
            continue
        base = n[: -len(".in_sum2")]
        counts = t[base + ".counts"]
        assert counts.size == 1, f"{base}: {counts.size} experts; only dense models here"
        out[native(base)] = (sums / counts[0]).astype(np.float32)
    save_file(out, dst, metadata={"converted_from": src})


def ours_to_llama(src, dst):
    import gguf
    from safetensors import safe_open
    from safetensors.numpy import load_file
    with safe_open(src, "np") as f:
        meta = f.metadata() or {}
    tokens, ctx = int(meta["tokens"]), int(meta.get("ctx", 512))
    w = gguf.GGUFWriter(dst, arch="imatrix")
    w.add_string("general.type", "imatrix")
    w.add_array("imatrix.datasets", [src])
    w.add_uint32("imatrix.chunk_count", max(1, tokens // ctx))
    w.add_uint32("imatrix.chunk_size", ctx)
    for n, v in sorted(load_file(src).items()):
        try:
            g = ggml(n)
        except (KeyError, IndexError):
            continue
        w.add_tensor(g + ".in_sum2", (v.astype(np.float64) * tokens).astype(np.float32).reshape(1, -1))
        w.add_tensor(g + ".counts", np.array([[float(tokens)]], dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    if sys.argv[1].endswith(".gguf"):
        llama_to_ours(sys.argv[1], sys.argv[2])
    else:
        ours_to_llama(sys.argv[1], sys.argv[2])

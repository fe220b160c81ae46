#!/usr/bin/env python3
"""Run an MLX export (`tramontane export MODEL -o DIR --to mlx`) in mlx-lm and write what it
computes as a safetensors file Tramontane's `validate --against-logits` reads:
  eval.input_ids / eval.logits   logits of every position of the given token ids
  greedy.input_ids               the prompt ids followed by mlx-lm's greedy continuation

Usage: mlx_logits.py DIR --ids 1,2,3 [--prompt-ids 1,2] [--new 24] -o OUT.safetensors
Needs: pip install "mlx[cpu]" mlx-lm safetensors numpy
"""
import argparse
import mlx.core as mx
import numpy as np
import os
from pathlib import Path

from mlx_lm import load
from mlx_lm.utils import load_model
from mlx_lm.generate import generate_step
from safetensors.numpy import save_file


def ids(s):
    return [int(x) for x in s.replace(",", " ").split()]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--ids", required=True, help="token ids for the logits (comma or space separated)")
    p.add_argument("--prompt-ids", help="prompt for greedy decoding (default: none)")
    p.add_argument("--new", type=int, default=24)
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()

    if os.path.exists(os.path.join(a.model, "tokenizer.json")):
        # mlx_lm.load: the weights and the exported tokenizer.json / tokenizer_config.json.
        model, tokenizer = load(a.model)
    else:
        # A model without a tokenizer (the tiny fixtures): the weights alone.
        model, _ = load_model(Path(a.model))
        tokenizer = None
    x = ids(a.ids)
    logits = model(mx.array([x]))[0].astype(mx.float32)
    out = {"eval.input_ids": np.array(x, dtype=np.int32), "eval.logits": np.array(logits)}
    if a.prompt_ids:
        prompt = ids(a.prompt_ids)
        # mlx-lm's own decoding loop (KV cache; no sampler = argmax).
        new = []
        for token, _ in generate_step(mx.array(prompt), model, max_tokens=a.new):
            new.append(int(token))
        out["greedy.input_ids"] = np.array(prompt + new, dtype=np.int32)
        print("greedy:", ",".join(str(t) for t in new))
        if tokenizer is not None:
            print("text:", repr(tokenizer.decode(new)))
    save_file(out, a.output)


if __name__ == "__main__":
    main()

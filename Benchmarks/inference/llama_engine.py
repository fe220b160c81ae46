#!/usr/bin/env python3
"""llama.cpp's side of the inference benchmark (llama-cpp-python, n_threads=2).
  speed MODEL.gguf TOKENS   → prompt processing of 512 tokens and 64 greedy tokens, tokens/s
  kld BASE.gguf MODEL.gguf TOKENS CHUNKS → mean KLD / top-1 vs BASE over chunks of 512
    (BOS first, second half scored, as llama-perplexity and `tramontane validate` do)
Prints one JSON line."""
import json, sys, time
import numpy as np
import llama_cpp

def load(path, logits_all=False):
    return llama_cpp.Llama(model_path=path, n_threads=2, n_threads_batch=2, n_ctx=1024, n_batch=512,
                           logits_all=logits_all, verbose=False)

def tokens(path):
    return [int(x) for x in open(path).read().replace("\n", ",").split(",") if x.strip()]

mode = sys.argv[1]
if mode == "speed":
    llm, ids = load(sys.argv[2]), tokens(sys.argv[3])
    prompt = ids[:512]
    vocab = llm.n_vocab()
    def last():  # logits of the last evaluated token
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(vocab,))
    t0 = time.time(); llm.eval(prompt); pp = len(prompt) / (time.time() - t0)
    nxt = int(np.argmax(last()))
    t0 = time.time()
    for _ in range(64):
        llm.eval([nxt]); nxt = int(np.argmax(last()))
    tg = 64 / (time.time() - t0)
    print(json.dumps({"engine": "llama.cpp", "prompt_tokens_per_second": pp, "tokens_per_second": tg}))
elif mode == "kld":
    base, model = load(sys.argv[2], True), load(sys.argv[3], True)
    ids, chunks = tokens(sys.argv[4]), int(sys.argv[5])
    bos = base.token_bos()
    kl, same, n = 0.0, 0, 0
    for c in range(chunks):
        chunk = ids[c * 512:(c + 1) * 512]
        chunk[0] = bos
        out = []
        for llm in (base, model):
            llm.reset(); llm.eval(chunk)
            out.append(np.array(llm.scores[:512], dtype=np.float64))
        lb, lm = out
        for j in range(256, 511):
            pb = lb[j] - lb[j].max(); pb -= np.log(np.exp(pb).sum())
            pm = lm[j] - lm[j].max(); pm -= np.log(np.exp(pm).sum())
            kl += float((np.exp(pb) * (pb - pm)).sum()); same += int(pb.argmax() == pm.argmax()); n += 1
    print(json.dumps({"engine": "llama.cpp", "mean_kld": kl / n, "top1_agreement": same / n, "tokens_scored": n}))

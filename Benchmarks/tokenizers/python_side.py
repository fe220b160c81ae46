#!/usr/bin/env python3
"""The peers of the tokenizer benchmark, single thread, on the same text:
sentencepiece (Mistral v1 and v3 .model), mistral_common's tekken (tiktoken underneath), and
Hugging Face `tokenizers` for SmolLM2 (its fast tokenizer converted from the GGUF by
transformers). Prints one JSON line per tokenizer: MB/s of text and the ids' sha256, so the
driver can check both sides produced the same ids."""
import hashlib, json, os, sys, time
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
text_path, tok_dir, gguf = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(text_path, encoding="utf-8").read()
mb = len(text.encode()) / 1e6

def report(name, encode):
    encode(text[:1000])
    t0 = time.perf_counter(); ids = encode(text); s = time.perf_counter() - t0
    print(json.dumps({"tokenizer": name, "engine": "python", "mb_per_second": mb / s, "tokens": len(ids),
                      "ids_sha256": hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()}))

import sentencepiece as spm
for name in ["tokenizer.model.v1", "mistral_instruct_tokenizer_240323.model.v3"]:
    sp = spm.SentencePieceProcessor(model_file=os.path.join(tok_dir, name))
    report(name, lambda t, sp=sp: sp.encode(t))

from mistral_common.tokens.tokenizers.tekken import Tekkenizer
tk = Tekkenizer.from_file(os.path.join(tok_dir, "tekken_240911.json"))
report("tekken_240911.json", lambda t: tk.encode(t, bos=False, eos=False))

from transformers import AutoTokenizer
hf = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))
report("smollm2 (GGUF)", lambda t: hf.encode(t, add_special_tokens=False))

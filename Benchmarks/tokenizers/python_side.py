#!/usr/bin/env python3
"""The peers of the tokenizer benchmark, single thread, on the same text:
sentencepiece (Mistral v1 and v3 .model), mistral_common's tekken (tiktoken underneath), and
Hugging Face `tokenizers` for SmolLM2 (built from the GGUF's vocabulary and merges with the
pre-tokenizer of its tokenizer.json). Prints one JSON line per tokenizer: MB/s of text and the ids' sha256, so the
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

# SmolLM2's tokenizer.json, rebuilt from the GGUF metadata: byte-level BPE with digits split
# one by one before the GPT-2 regex (the configuration its Hugging Face repository ships).
from gguf import GGUFReader
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
r = GGUFReader(gguf)
tokens = r.fields["tokenizer.ggml.tokens"].contents()
merges = [tuple(m.split(" ", 1)) for m in r.fields["tokenizer.ggml.merges"].contents()]
hf = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
hf.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
hf.decoder = decoders.ByteLevel()
report("smollm2 (GGUF)", lambda t: hf.encode(t, add_special_tokens=False).ids)

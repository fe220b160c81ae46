#!/usr/bin/env python3
"""llama.cpp's side of the quantization benchmark: quantizes an F32 GGUF with
llama_model_quantize (pure: every 2-D tensor gets the type, llama.cpp's own fallback for rows
that are not a multiple of 256), then measures round-trip RMSE over all 2-D tensors by
dequantizing with gguf-py. Prints one JSON line. With LLAMA_LIB=…/libllama.so it calls that
library through ctypes (llama_lib.py), else llama-cpp-python's bundled one.
Usage: llama_quantize.py IN.gguf OUT.gguf TYPE THREADS [--no-rmse]   (--no-rmse: timing only)"""
import json, os, sys, time
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_lib import FTYPES, quantize

inp, out, typ, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ftype = FTYPES[typ]
t0 = time.time()
if os.environ.get("LLAMA_LIB"):
    quantize(os.environ["LLAMA_LIB"], inp, out, ftype, threads, pure=True)
else:
    import llama_cpp
    p = llama_cpp.llama_model_quantize_default_params()
    p.nthread = threads
    p.ftype = ftype
    p.pure = True
    assert llama_cpp.llama_model_quantize(inp.encode(), out.encode(), p) == 0
seconds = time.time() - t0
if "--no-rmse" in sys.argv[5:]:
    total_in = sum(int(t.n_bytes) for t in GGUFReader(inp).tensors)
    print(json.dumps({"tool": "llama.cpp", "type": typ, "seconds": seconds, "mb_per_second": total_in / 1e6 / seconds}))
    sys.exit(0)
src = {t.name: t for t in GGUFReader(inp).tensors}
se, n, nbytes, in_bytes, types = 0.0, 0, 0, 0, {}
for t in GGUFReader(out).tensors:
    if len(t.shape) < 2 or t.name not in src:
        continue
    a = dequantize(src[t.name].data, src[t.name].tensor_type).astype(np.float64).ravel()
    b = dequantize(t.data, t.tensor_type).astype(np.float64).ravel()
    se += float(((a - b) ** 2).sum()); n += a.size; nbytes += int(t.n_bytes); in_bytes += a.size * 4
    types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
total_in = sum(int(t.n_bytes) for t in src.values())
print(json.dumps({"tool": "llama.cpp", "type": typ, "seconds": seconds, "mb_per_second": total_in / 1e6 / seconds,
                  "rmse": (se / n) ** 0.5, "bits_per_weight": nbytes * 8 / n, "tensor_types": types}))

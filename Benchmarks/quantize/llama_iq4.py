#!/usr/bin/env python3
"""llama.cpp's IQ4_NL / IQ4_XS files for the IQ4 comparison (iq4.sh): calls llama_model_quantize
in llama.cpp's own libllama.so through ctypes (no llama-cpp-python needed), then prints the
per-tensor types it chose as JSON {gguf name: ggml type name}, and the seconds of the call.
Usage: llama_iq4.py LIBLLAMA.so IN-f32.gguf OUT.gguf iq4_nl|iq4_xs mix|pure THREADS"""
import json, os, sys, time
from gguf import GGUFReader
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_lib import FTYPES, quantize

lib, inp, out, typ, mode, threads = sys.argv[1:7]
t0 = time.time()
quantize(lib, inp, out, FTYPES[typ], int(threads), mode == "pure")
seconds = time.time() - t0
types = {t.name: t.tensor_type.name for t in GGUFReader(out).tensors if len(t.shape) >= 2}
print(json.dumps({"seconds": seconds, "types": types}))

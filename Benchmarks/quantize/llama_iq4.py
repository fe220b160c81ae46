#!/usr/bin/env python3
"""llama.cpp's IQ4_NL / IQ4_XS files for the IQ4 comparison (iq4.sh): calls llama_model_quantize
in llama.cpp's own libllama.so through ctypes (no llama-cpp-python needed), then prints the
per-tensor types it chose as JSON {gguf name: ggml type name}, and the seconds of the call.
Usage: llama_iq4.py LIBLLAMA.so IN-f32.gguf OUT.gguf iq4_nl|iq4_xs mix|pure THREADS"""
import ctypes as C, json, sys, time
from gguf import GGUFReader

lib, inp, out, typ, mode, threads = sys.argv[1:7]


class Params(C.Structure):   # llama.h: struct llama_model_quantize_params
    _fields_ = [("nthread", C.c_int32), ("ftype", C.c_int32), ("output_tensor_type", C.c_int32),
                ("token_embedding_type", C.c_int32), ("allow_requantize", C.c_bool), ("quantize_output_tensor", C.c_bool),
                ("only_copy", C.c_bool), ("pure", C.c_bool), ("keep_split", C.c_bool), ("dry_run", C.c_bool),
                ("imatrix", C.c_void_p), ("kv_overrides", C.c_void_p), ("tt_overrides", C.c_void_p),
                ("prune_layers", C.c_void_p), ("max_buf_size", C.c_size_t)]


llama = C.CDLL(lib)
llama.llama_model_quantize_default_params.restype = Params
llama.llama_model_quantize.argtypes = [C.c_char_p, C.c_char_p, C.POINTER(Params)]
llama.llama_model_quantize.restype = C.c_uint32
p = llama.llama_model_quantize_default_params()
p.nthread = int(threads)
p.ftype = {"iq4_nl": 25, "iq4_xs": 30}[typ]   # LLAMA_FTYPE_MOSTLY_IQ4_NL / _IQ4_XS
p.pure = mode == "pure"
t0 = time.time()
rc = llama.llama_model_quantize(inp.encode(), out.encode(), C.byref(p))
seconds = time.time() - t0
assert rc == 0, rc
types = {t.name: t.tensor_type.name for t in GGUFReader(out).tensors if len(t.shape) >= 2}
print(json.dumps({"seconds": seconds, "types": types}))

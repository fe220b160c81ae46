"""llama.cpp's llama_model_quantize called through ctypes in its own libllama.so (the build of
the llama.cpp source inside the llama-cpp-python sdist; no llama-cpp-python install needed).
Imported by llama_quantize.py and llama_iq4.py."""
import ctypes as C

# llama.h: enum llama_ftype. With pure=True every tensor gets the ftype's base type (Q5_K_S →
# Q5_K, Q3_K_S → Q3_K, …), with llama.cpp's own fallback where rows are not a multiple of 256.
FTYPES = {"q8_0": 7, "q4_0": 2, "q4_1": 3, "q5_0": 8, "q5_1": 9, "q2_k": 10, "q3_k": 11, "q4_k": 14,
          "q5_k": 16, "q6_k": 18, "iq4_nl": 25, "iq4_xs": 30}


class Params(C.Structure):   # llama.h: struct llama_model_quantize_params
    _fields_ = [("nthread", C.c_int32), ("ftype", C.c_int32), ("output_tensor_type", C.c_int32),
                ("token_embedding_type", C.c_int32), ("allow_requantize", C.c_bool), ("quantize_output_tensor", C.c_bool),
                ("only_copy", C.c_bool), ("pure", C.c_bool), ("keep_split", C.c_bool), ("dry_run", C.c_bool),
                ("imatrix", C.c_void_p), ("kv_overrides", C.c_void_p), ("tt_overrides", C.c_void_p),
                ("prune_layers", C.c_void_p), ("max_buf_size", C.c_size_t)]


def quantize(lib, inp, out, ftype, threads, pure):
    """Runs llama_model_quantize; raises on a non-zero return."""
    llama = C.CDLL(lib)
    llama.llama_model_quantize_default_params.restype = Params
    llama.llama_model_quantize.argtypes = [C.c_char_p, C.c_char_p, C.POINTER(Params)]
    llama.llama_model_quantize.restype = C.c_uint32
    p = llama.llama_model_quantize_default_params()
    p.nthread = threads
    p.ftype = ftype
    p.pure = pure
    rc = llama.llama_model_quantize(inp.encode(), out.encode(), C.byref(p))
    if rc != 0:
        raise RuntimeError("llama_model_quantize returned %d" % rc)

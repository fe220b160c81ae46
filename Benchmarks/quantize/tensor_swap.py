#!/usr/bin/env python3
"""Which tensors make the difference between two GGUF files of the same model and types:
writes FIRST.gguf with the tensors of the given kinds taken from SECOND.gguf, to validate as
any other file (`tramontane validate OUT.gguf --reference base-f32.tmt …`).

  tensor_swap.py FIRST.gguf SECOND.gguf OUT.gguf KIND…
      KIND: a block tensor's role (attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up,
      ffn_down) or a whole name (token_embd.weight); no KIND copies FIRST unchanged.
Second files come from `tramontane export X.tmt -o X.gguf` (every tensor copied byte for byte)."""
import sys

import numpy as np
import gguf
from gguf import GGUFReader, GGUFWriter


def kind(name):
    return name.split(".")[-2] if name.startswith("blk.") else name


def main(first, second, out, kinds):
    a, b = GGUFReader(first), GGUFReader(second)
    theirs = {t.name: t for t in b.tensors}
    w = GGUFWriter(out, arch=a.fields["general.architecture"].contents())
    for f in a.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        sub = f.types[-1] if f.types[0] == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(f.name, f.contents(), f.types[0], sub)
    for t in a.tensors:
        src = theirs[t.name] if kind(t.name) in kinds else t
        assert src.tensor_type == t.tensor_type, f"{t.name}: {src.tensor_type.name} against {t.tensor_type.name}"
        w.add_tensor(t.name, np.asarray(src.data), raw_dtype=src.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4:]))

#!/usr/bin/env python3
"""Per tensor kind, the importance-weighted squared error Σ imp[c]·(ŵ − w)² of two quantized
GGUF files of the same model against its f32 GGUF, with llama-imatrix's importance (1 for
tensors it has no entry for):

  tensor_error.py BASE-f32.gguf IMATRIX.gguf FIRST.gguf SECOND.gguf"""
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main(base_path, imatrix_path, first, second):
    base = {t.name: t for t in GGUFReader(base_path).tensors}
    im = {t.name: np.asarray(t.data, dtype=np.float32).reshape(-1) for t in GGUFReader(imatrix_path).tensors}

    def load(f):
        return {t.name: (t.tensor_type.name, dequantize(t.data, t.tensor_type).reshape(-1)) for t in GGUFReader(f).tensors}

    a, b = load(first), load(second)
    totals = {}
    for n, t in base.items():
        if len(t.shape) < 2 or n not in a or n not in b:
            continue
        x = np.asarray(t.data, dtype=np.float32).reshape(-1)
        cols = int(t.shape[0])
        imp = im[n + ".in_sum2"] / im[n + ".counts"][0] if n + ".in_sum2" in im else np.ones(cols, np.float32)
        w = np.tile(imp, x.size // cols)
        k = (n.split(".")[-2] if n.startswith("blk.") else n, a[n][0], b[n][0])
        s = totals.setdefault(k, [0.0, 0.0, 0])
        s[0] += float(np.sum(w * (a[n][1] - x) ** 2))
        s[1] += float(np.sum(w * (b[n][1] - x) ** 2))
        s[2] += 1
    print("| kind | types | tensors | first | second | second / first |")
    print("|---|---|---|---|---|---|")
    for (k, ta, tb), (ea, eb, c) in sorted(totals.items()):
        ratio = "%.3f" % (eb / ea) if ea > 0 else "—"
        print(f"| {k} | {ta} / {tb} | {c} | {ea:.5g} | {eb:.5g} | {ratio} |")


if __name__ == "__main__":
    main(*sys.argv[1:5])

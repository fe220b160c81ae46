#!/usr/bin/env python3
"""Turns Benchmarks/scale/run.sh's measurements (WORK_DIR/results.tsv, notes.txt, the JSON of
`tramontane generate`, llama-completion's timing lines and llama-bench's JSON) into the markdown
tables of results.md. Standard library only. Usage: report.py WORK_DIR"""
import glob, json, os, re, sys

work = sys.argv[1]
out = []
notes = open(os.path.join(work, "notes.txt")).read().splitlines() if os.path.exists(os.path.join(work, "notes.txt")) else []
bandwidth = None
for n in notes:
    m = re.search(r'"read_gb_per_s": ([0-9.]+)', n)
    if m and "threads:" in n and "1 thread:" not in n:
        bandwidth = float(m.group(1))
sizes = {}
for n in notes:
    m = re.match(r"(.+) file: ([0-9.]+) GB", n)
    if m:
        sizes[m.group(1)] = float(m.group(2))

out.append("| step | wall s | user+sys s | peak RSS MiB |")
out.append("|---|---:|---:|---:|")
for line in open(os.path.join(work, "results.tsv")):
    f = line.rstrip("\n").split("\t")
    out.append("| " + " | ".join(f + [""] * (4 - len(f))) + " |")
out.append("")


def ours(name):
    r = {}
    for kind in ("cold", "warm", "pp512"):
        p = os.path.join(work, f"{name}-{kind}.json")
        if os.path.exists(p):
            try:
                r[kind] = json.load(open(p))
            except ValueError:
                pass
    return r


def llama(name):
    r = {}
    for kind in ("cold", "warm"):
        p = os.path.join(work, f"{name}-{kind}.log")
        if not os.path.exists(p):
            continue
        t = open(p, errors="replace").read()
        d = {}
        m = re.search(r"load time =\s*([0-9.]+) ms", t)
        if m: d["load"] = float(m.group(1)) / 1000
        m = re.search(r"prompt eval time =\s*([0-9.]+) ms /\s*(\d+) tokens", t)
        if m: d["prompt_s"], d["prompt_tokens"] = float(m.group(1)) / 1000, int(m.group(2))
        m = re.search(r"\n[^\n]*\beval time =\s*([0-9.]+) ms /\s*(\d+) runs", t)
        if m: d["eval_s"], d["eval_tokens"] = float(m.group(1)) / 1000, int(m.group(2))
        r[kind] = d
    p = os.path.join(work, f"{name}-bench.json")
    if os.path.exists(p):
        try:
            for row in json.load(open(p)):
                if row.get("n_gen", 0) == 0: r["pp"] = row.get("avg_ts")
                else: r["tg"] = row.get("avg_ts")
        except ValueError:
            pass
    return r


def fmt(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


types = sorted({re.sub(r"^(ours|llama) ", "", k) for k in sizes}, key=lambda t: ["f16", "q8_0", "q4_0", "q4_k_m"].index(t) if t in ["f16", "q8_0", "q4_0", "q4_k_m"] else 9)
out.append("| weights | engine | file GB | first token cold s | first token warm s | prompt tok/s (pp512) | generation tok/s | GB/s of weights | of read bandwidth |")
out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for t in types:
    o = ours(f"ours {t}")
    if o:
        gb = sizes.get(f"ours {t}")
        tg = o.get("pp512", {}).get("tokens_per_second")
        rate = gb * tg if gb and tg else None
        out.append(f"| {t} | tramontane | {fmt(gb)} | {fmt(o.get('cold', {}).get('first_token_seconds'))} | "
                   f"{fmt(o.get('warm', {}).get('first_token_seconds'))} | {fmt(o.get('pp512', {}).get('prompt_tokens_per_second'))} | "
                   f"{fmt(tg)} | {fmt(rate, '.1f')} | {fmt(rate / bandwidth * 100 if rate and bandwidth else None, '.0f')}% |")
    l = llama(f"llama {t}")
    if l:
        gb = sizes.get(f"llama {t}")
        tg = l.get("tg")
        rate = gb * tg if gb and tg else None
        first = lambda k: (l[k]["load"] + l[k]["prompt_s"]) if k in l and "load" in l[k] and "prompt_s" in l[k] else None
        out.append(f"| {t} | llama.cpp | {fmt(gb)} | {fmt(first('cold'))} | {fmt(first('warm'))} | {fmt(l.get('pp'))} | {fmt(tg)} | "
                   f"{fmt(rate, '.1f')} | {fmt(rate / bandwidth * 100 if rate and bandwidth else None, '.0f')}% |")
out.append("")
out.append("Generation tok/s: Tramontane's 64 tokens after the 512-token prompt; llama.cpp's llama-bench tg64.")
out.append("GB/s of weights: file size × generation tok/s (each token reads every weight once; the KV cache is extra).")
p = os.path.join(work, "validate.json")
if os.path.exists(p):
    try:
        v = json.load(open(p))
        out.append(f"validate q4_k_m against q8_0: mean KLD {v.get('mean_kld'):.5f}, top-1 {100 * v.get('top1_agreement'):.2f}%")
    except (ValueError, TypeError):
        pass
out.append("")
out += notes
print("\n".join(out))

#!/usr/bin/env python3
"""Tramontane access sweep: `public` -> `package` outside the documented library surface.

Usage:
    scripts/library-surface.py REPO [--no-build] [--max-iterations N] [--fuzz full|quick|none] [--dry-run]

1. Reads every .swift file of the seven library modules (Sources/<Module>), finds each `public`
   modifier (outside comments and strings) and decides, from KEEP/DEMOTE below, whether the
   declaration stays `public`; every other `public` becomes `package`. A kept type's public
   members stay public (unless listed in DEMOTE); anything named in a kept declaration's
   signature (and in the body of a kept @inlinable declaration, the cases of a kept enum, the
   requirements of a kept protocol) is kept too, to a fixed point. Attributes (@inlinable,
   @usableFromInline) are left as they are.
2. Builds `swift build --build-tests` in REPO and the Fuzz package (a quick type-check of
   Fuzz/Sources against the main build's modules each round, then a real `swift build` in Fuzz/
   with its own .build), parses the errors ("... is inaccessible due to 'package' protection
   level" and its "declared here" note, "cannot be declared public because ... uses a package
   type", "is package and cannot be referenced from an '@inlinable' function", "cannot find 'X'
   in scope" in the fuzz sources) and restores `public` at the declarations they point to.
   Every round re-applies the whole decision to the original text, so the result depends only on
   the source, KEEP/DEMOTE and what the compiler asked for. Prints what it restored.

Declarations already written `package` (an earlier sweep, or by hand) stay package unless KEEP
names them or the compiler asks for them; running it again on a swept tree changes nothing.
stdlib only. A file is rewritten only when its text changes (keeps incremental builds).
"""
import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict

MODULES = ["TensorCore", "Quantization", "ModelFile", "Checkpoints", "Tokenizers", "Inference", "Pipeline"]

# The documented surface. "Name" keeps a top-level declaration and (recursively) its public
# members; "Type.member" keeps that member only (and the type itself public).
KEEP = {
    "TensorCore": [
        "DType", "JSONValue", "JSONParser", "JSONParseError", "XXH64",
        "TensorError", "IOError", "OutputError",
    ],
    "Quantization": [],
    "ModelFile": [
        "TMTFile", "TMTWriter", "TMTWriterOptions", "TMTCodec", "TMTItem", "TMTError",
    ],
    "Checkpoints": [
        "Checkpoint", "ModelConfig", "TokenizerFile", "NativeModel", "CheckpointError",
    ],
    "Tokenizers": [
        "Tokenizer", "ByteLevelBPE", "SentencePieceBPE", "Tekken", "ChatFormat", "StreamDecoder",
        "TokenizerError",
    ],
    "Inference": [
        "Generator", "Sampler", "InferenceError",
    ],
    "Pipeline": [
        "Quantizer", "Converter", "Validator", "ValidationFailure",
        "GGUFExport", "MLXExport", "SafetensorsExport",
        "Inspector", "InspectReport", "LoadedModel", "ChatSession", "TokenizerLoader",
        "ImportanceMatrix", "ProgressReporter", "SilentProgress", "PipelineError",
    ],
}

# Public members of kept types that are internals ("Type.member", "Type.init(label:)" for one
# overload, "Type.*" for every member: the type stays a public handle): they become package.
DEMOTE = [
    # storage and engine details of kept types
    "TMTFile.file", "TMTFile.directory", "TMTFile.directoryOffset", "TMTItem.chunks",
    "TMTWriter.init(target:options:write:)", "TMTWriter.addBlob(name:encoded:)",
    "ModelConfig.fromGGUF",
    "Generator.model", "Generator.cache", "Generator.init(model:cache:sampler:stopTokens:prefillChunk:)",
    "Converter.Options.hashCache", "Quantizer.Options.hashCache", "Quantizer.Options.knownDigests",
    # the loaded model: Validator and ImportanceMatrix take it, its engine stays inside
    "Transformer.*",
]

DECL_KEYWORDS = {"func", "init", "subscript", "var", "let", "typealias", "associatedtype", "deinit",
                 "struct", "class", "enum", "protocol", "actor", "extension", "case", "macro", "operator"}
TYPE_KEYWORDS = {"struct", "class", "enum", "protocol", "actor"}
MODIFIERS = {"public", "package", "private", "fileprivate", "internal", "open", "static", "final", "override",
             "mutating", "nonmutating", "nonisolated", "indirect", "convenience", "required", "lazy", "weak",
             "unowned", "dynamic", "consuming", "borrowing", "optional", "prefix", "postfix", "infix", "distributed"}


# ---------------------------------------------------------------- lexing

class Tok:
    __slots__ = ("kind", "text", "pos", "line")

    def __init__(self, kind, text, pos, line):
        self.kind, self.text, self.pos, self.line = kind, text, pos, line

    def __repr__(self):
        return f"{self.kind}:{self.text}@{self.line}"


IDENT_START = re.compile(r"[A-Za-z_]")
IDENT = re.compile(r"`?[A-Za-z_][A-Za-z0-9_]*`?")
NUMBER = re.compile(r"[0-9][0-9A-Za-z_.]*")
OPCHARS = set("/=-+!*%<>&|^~?.")


def skip_string(src, i):
    """src[i:] starts a string literal (optional #s, then " or \"\"\"); returns the index after it."""
    hashes = 0
    while src[i] == "#":
        hashes += 1
        i += 1
    multi = src.startswith('"""', i)
    i += 3 if multi else 1
    close = ('"""' if multi else '"') + "#" * hashes
    esc = "\\" + "#" * hashes
    n = len(src)
    while i < n:
        if src.startswith(esc, i):
            j = i + len(esc)
            if j < n and src[j] == "(":  # interpolation: skip a balanced expression
                depth, j = 1, j + 1
                while j < n and depth:
                    c = src[j]
                    if c == '"' or (c == "#" and src[j:].lstrip("#").startswith('"')):
                        j = skip_string(src, j)
                        continue
                    if c == "(":
                        depth += 1
                    elif c == ")":
                        depth -= 1
                    j += 1
                i = j
            else:
                i = j + 1
            continue
        if src.startswith(close, i):
            return i + len(close)
        if not multi and src[i] == "\n":
            return i  # unterminated; do not run away
        i += 1
    return n


def lex(src):
    toks = []
    i, n, line = 0, len(src), 1
    line_starts = [0]
    for m in re.finditer("\n", src):
        line_starts.append(m.end())

    def line_of(p):
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= p:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    while i < n:
        c = src[i]
        if c in " \t\r\n":
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = j
            continue
        if c == '"' or (c == "#" and src[i:].lstrip("#").startswith('"')):
            j = skip_string(src, i)
            toks.append(Tok("str", src[i:j], i, line_of(i)))
            i = j
            continue
        if c == "@":
            m = IDENT.match(src, i + 1)
            if m:
                toks.append(Tok("attr", "@" + m.group(0), i, line_of(i)))
                i = m.end()
                continue
        if c == "#":
            m = IDENT.match(src, i + 1)
            if m:
                toks.append(Tok("pound", "#" + m.group(0), i, line_of(i)))
                i = m.end()
                continue
        m = IDENT.match(src, i)
        if m:
            toks.append(Tok("id", m.group(0).strip("`"), i, line_of(i)))
            i = m.end()
            continue
        if c.isdigit():
            m = NUMBER.match(src, i)
            toks.append(Tok("num", m.group(0), i, line_of(i)))
            i = m.end()
            continue
        if c == "$":
            m = re.compile(r"\$[A-Za-z0-9_]*").match(src, i)
            toks.append(Tok("id", m.group(0), i, line_of(i)))
            i = m.end()
            continue
        if c in OPCHARS:
            j = i
            while j < n and src[j] in OPCHARS and not src.startswith("//", j) and not src.startswith("/*", j):
                j += 1
            if j == i:
                j = i + 1
            toks.append(Tok("op", src[i:j], i, line_of(i)))
            i = j
            continue
        toks.append(Tok("punct", c, i, line_of(i)))
        i += 1
    return toks


# ---------------------------------------------------------------- declarations

class Decl:
    """One declaration carrying an explicit `public` modifier (or a scope-defining type)."""

    def __init__(self):
        self.file = None
        self.module = None
        self.kind = None          # func, var, struct, extension, ...
        self.name = None          # base name; extension: extended type's dotted name
        self.labels = None        # "init(path:replacing:)" for functions, initializers, subscripts
        self.context = ()         # enclosing type path, e.g. ("Quantizer", "Options")
        self.public_tok = None    # index of the `public` (or `package`) token, or None
        self.orig = None          # which of the two the source has
        self.line = 0             # line of the `public` token
        self.name_line = 0        # line of the introducer / name
        self.attrs = []           # attributes written before it
        self.sig = (0, 0)         # token range of the signature
        self.body = None          # token range of the body, if any
        self.toplevel = False

    @property
    def path(self):
        return self.context + (self.name,)

    @property
    def ident(self):
        return ".".join(self.path)

    @property
    def lident(self):
        return ".".join(self.context + (self.labels or self.name,))

    def named(self, names):
        return self.ident in names or self.lident in names

    def __repr__(self):
        return f"{self.module}:{self.kind} {self.ident} ({os.path.basename(self.file)}:{self.line})"


def match_braces(toks):
    pair, stack = {}, []
    for k, t in enumerate(toks):
        if t.kind == "punct" and t.text == "{":
            stack.append(k)
        elif t.kind == "punct" and t.text == "}" and stack:
            o = stack.pop()
            pair[o] = k
            pair[k] = o
    return pair


def dotted_name(toks, k):
    """Reads `A.B.C` (skipping generic arguments) from toks[k]; returns (name, next index)."""
    parts = []
    while k < len(toks) and toks[k].kind == "id":
        parts.append(toks[k].text)
        k += 1
        if k < len(toks) and toks[k].kind == "op" and toks[k].text.startswith("<"):
            depth = 0
            while k < len(toks):
                t = toks[k]
                if t.kind == "op":
                    depth += t.text.count("<") - t.text.count(">")
                k += 1
                if depth <= 0:
                    break
        if k < len(toks) and toks[k].kind == "op" and toks[k].text == ".":
            k += 1
            continue
        break
    return ".".join(parts), k


def decl_end(toks, k, pair, stop_at_brace=True):
    """From the introducer at k: the index of the body's `{` (or of the token after the declaration)."""
    depth = 0
    start_line = toks[k].line
    j = k + 1
    while j < len(toks):
        t = toks[j]
        if t.kind == "punct":
            if t.text in "([":
                depth += 1
            elif t.text in ")]":
                depth -= 1
            elif t.text == "{" and depth <= 0:
                return j
            elif t.text == "}" and depth <= 0:
                return j
        elif depth <= 0 and t.line > start_line and (
                (t.kind == "id" and (t.text in DECL_KEYWORDS or t.text in MODIFIERS) and t.text not in ("where",))
                or t.kind in ("attr", "pound")):
            # a new declaration starts on a later line (body-less requirement or stored property)
            prev = toks[j - 1]
            if not (prev.kind == "op" and prev.text in ("=", "->", ".", ",", ":")) and not (prev.kind == "punct" and prev.text == ","):
                return j
        j += 1
    return j


def labelled_name(toks, k, base):
    """`init(path:replacing:)` from the introducer at k."""
    n = len(toks)
    k += 1 if base == toks[k].text else 2
    while k < n and not (toks[k].kind == "punct" and toks[k].text == "("):
        if toks[k].kind == "punct" and toks[k].text in "{}":
            return base
        k += 1
    labels, depth, expect = [], 0, True
    while k < n:
        t = toks[k]
        if t.kind == "punct" and t.text in "([":
            depth += 1
            if depth == 1:
                expect = True
                k += 1
                continue
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
            if depth == 0:
                break
        elif depth == 1 and t.kind == "punct" and t.text == ",":
            expect = True
        elif depth == 1 and expect and t.kind == "id":
            labels.append(t.text)
            expect = False
        k += 1
    return base + "(" + "".join(l + ":" for l in labels) + ")"


def parse_file(path, module, src):
    toks = lex(src)
    pair = match_braces(toks)
    decls = []
    scopes = []  # stack of (close index, kind 'type'|'code', path)
    pending = {}  # index of `{` -> path for type/extension bodies

    def cur_path():
        return scopes[-1][2] if scopes else ()

    def in_code():
        return bool(scopes) and scopes[-1][1] == "code"

    k = 0
    n = len(toks)
    while k < n:
        t = toks[k]
        while scopes and k > scopes[-1][0]:
            scopes.pop()
        if t.kind == "punct" and t.text == "{":
            close = pair.get(k, n)
            if k in pending:
                scopes.append((close, "type", pending.pop(k)))
            else:
                scopes.append((close, "code", cur_path()))
            k += 1
            continue
        if in_code() or t.kind not in ("id", "attr"):
            k += 1
            continue
        # a declaration at file or type level: attributes, modifiers, introducer
        start = k
        attrs, mods, pub = [], [], None
        j = k
        while j < n:
            u = toks[j]
            if u.kind == "attr":
                attrs.append(u.text)
                j += 1
                if j < n and toks[j].kind == "punct" and toks[j].text == "(" and toks[j].pos == u.pos + len(u.text):
                    depth = 0
                    while j < n:
                        if toks[j].kind == "punct" and toks[j].text == "(":
                            depth += 1
                        elif toks[j].kind == "punct" and toks[j].text == ")":
                            depth -= 1
                        j += 1
                        if depth == 0:
                            break
                continue
            if u.kind == "id" and (u.text in MODIFIERS or (u.text == "class" and j + 1 < n and toks[j + 1].kind == "id"
                                                           and toks[j + 1].text in DECL_KEYWORDS | MODIFIERS)):
                if u.text in ("public", "package"):
                    pub = j
                mods.append(u.text)
                j += 1
                if j < n and toks[j].kind == "punct" and toks[j].text == "(":  # private(set)
                    j += 3 if j + 2 < n else 0
                continue
            break
        if j >= n or toks[j].kind != "id" or toks[j].text not in DECL_KEYWORDS:
            k = max(j, k + 1)
            continue
        intro = toks[j]
        d = Decl()
        d.file, d.module, d.kind, d.attrs = path, module, intro.text, attrs
        d.context = cur_path()
        d.public_tok = pub
        d.orig = toks[pub].text if pub is not None else None
        d.line = toks[pub].line if pub is not None else intro.line
        d.name_line = intro.line
        d.toplevel = not scopes
        name_k = j + 1
        if intro.text in ("init", "subscript", "deinit"):
            d.name = intro.text
        elif intro.text == "extension":
            d.name, _ = dotted_name(toks, j + 1)
        elif name_k < n:
            d.name = toks[name_k].text
            if toks[name_k].kind == "id":
                d.name_line = toks[name_k].line
        if intro.text in ("init", "subscript", "func"):
            d.labels = labelled_name(toks, j, d.name)
        end = decl_end(toks, j, pair)
        d.sig = (start, end)
        if end < n and toks[end].kind == "punct" and toks[end].text == "{":
            d.body = (end, pair.get(end, n))
            if intro.text in TYPE_KEYWORDS or intro.text == "extension":
                pending[end] = (tuple(d.name.split(".")) if intro.text == "extension" else d.context + (d.name,))
        if pub is not None or intro.text in TYPE_KEYWORDS or intro.text == "extension" or intro.text == "case":
            decls.append(d)
        k = end
    return toks, decls


# ---------------------------------------------------------------- decision

class Sweep:
    def __init__(self, repo):
        self.repo = os.path.realpath(repo)
        self.files = {}   # path -> (module, original text)
        self.toks = {}
        self.decls = []
        for module in MODULES:
            root = os.path.join(self.repo, "Sources", module)
            for dirpath, _, names in os.walk(root):
                for name in sorted(names):
                    if name.endswith(".swift"):
                        p = os.path.join(dirpath, name)
                        with open(p, encoding="utf-8") as f:
                            src = f.read()
                        self.files[p] = (module, src)
                        toks, decls = parse_file(p, module, src)
                        self.toks[p] = toks
                        self.decls += decls
        self.by_path = defaultdict(list)  # "A.B" -> decls
        self.toplevel = {}                # top-level name -> module
        for d in self.decls:
            if d.kind != "extension":
                self.by_path[d.ident].append(d)
            if d.toplevel and d.kind not in ("extension",) and d.name:
                self.toplevel[d.name] = d.module
        self.by_line = defaultdict(list)
        for d in self.decls:
            self.by_line[(d.file, d.line)].append(d)
            self.by_line[(d.file, d.name_line)].append(d)
        self.full = set()      # paths kept with their public members
        self.members = set()   # paths kept alone
        self.demote = set(DEMOTE)
        self.reasons = {}
        self.types = {d.ident for d in self.decls if d.kind in TYPE_KEYWORDS or d.kind == "typealias"}
        for module, names in KEEP.items():
            for name in names:
                (self.full if "." not in name or name in self.types else self.members).add(name)
                self.reasons[name] = "keep list"
        self.restored = []     # (ident, why)

    # is the type at `path` (a tuple) kept with its members?
    def full_kept(self, path):
        for i in range(1, len(path) + 1):
            p = ".".join(path[:i])
            if p in self.demote:
                return False
            if p in self.full:
                return True
        return False

    def is_public(self, d):
        if d.public_tok is None:
            return False
        if d.named(self.demote) and d.kind != "extension":
            return False
        if d.orig == "package":  # written `package` already: public only when asked for by name
            return d.kind != "extension" and (d.ident in self.full or d.named(self.members))
        if d.kind == "extension":
            return self.full_kept(d.path[:-1] + tuple(d.name.split("."))) if d.context else self.full_kept(tuple(d.name.split(".")))
        if d.named(self.members) or d.ident in self.full:
            return True
        if d.context and self.full_kept(d.context):
            return ".".join(d.context) + ".*" not in self.demote
        return False

    def shells(self):
        """Types that must be public because a member is kept."""
        out = set()
        for p in self.members | self.full:
            parts = p.split("(")[0].split(".")
            for i in range(1, len(parts)):
                out.add(".".join(parts[:i]))
        return out

    def public_set(self):
        shells = self.shells()
        pub = set()
        for d in self.decls:
            if d.public_tok is None:
                continue
            if self.is_public(d) or (d.kind != "extension" and d.ident in shells):
                pub.add(id(d))
        return pub

    def referenced(self, d, toks):
        """Top-level names (and the first component of dotted names) a kept declaration mentions."""
        ranges = [d.sig]
        if d.body and d.kind != "extension":
            if d.kind in ("protocol",) or any(a in ("@inlinable", "@usableFromInline") for a in d.attrs):
                ranges.append(d.body)
        out = set()
        scope = d.context + ((d.name,) if d.kind in TYPE_KEYWORDS else ())
        if d.kind == "extension":
            scope = tuple(d.name.split("."))
        for (a, b) in ranges:
            for k in range(a, min(b + 1, len(toks))):
                r = self.resolve(toks, k, scope)
                if r:
                    out.add(r)
        if d.kind == "enum" and d.body:
            a, b = d.body
            depth = 0
            for k in range(a + 1, b):
                t = toks[k]
                if t.kind == "punct" and t.text == "{":
                    depth += 1
                elif t.kind == "punct" and t.text == "}":
                    depth -= 1
                elif depth == 0 and t.kind == "id":
                    r = self.resolve(toks, k, d.context + (d.name,))
                    if not r:
                        continue
                    # only inside case lines
                    line_toks = [x for x in toks[a:b] if x.line == t.line]
                    if line_toks and line_toks[0].text == "case":
                        out.add(r)
        return out

    def resolve(self, toks, k, scope):
        """The declaration path toks[k] names: a nested type of an enclosing scope, `Top.member`
        when written so, or a top-level name; None if none of ours."""
        t = toks[k]
        if t.kind != "id":
            return None
        if k > 0 and toks[k - 1].kind == "op" and toks[k - 1].text.endswith("."):
            return None
        for i in range(len(scope), 0, -1):
            p = ".".join(scope[:i]) + "." + t.text
            if p in self.types:
                return p
            if i == len(scope) and p in self.by_path:
                return None  # a member of its own type
        if t.text not in self.toplevel:
            return None
        if (k + 2 < len(toks) and toks[k + 1].kind == "op" and toks[k + 1].text == "."
                and toks[k + 2].kind == "id" and t.text + "." + toks[k + 2].text in self.by_path):
            return t.text + "." + toks[k + 2].text
        return t.text

    def close(self):
        """Adds to `full` every top-level name a public declaration's signature uses."""
        while True:
            pub = self.public_set()
            added = False
            for d in self.decls:
                if id(d) not in pub:
                    continue
                for name in self.referenced(d, self.toks[d.file]):
                    if name in self.full or name in self.members or name in self.demote:
                        continue
                    if (d.ident + ".").startswith(name + "."):
                        continue  # its own name, or an enclosing type's
                    if self.full_kept(tuple(name.split("."))):
                        continue
                    if any(x.public_tok is not None for x in self.by_path.get(name, [])):
                        (self.full if "." not in name or name in self.types else self.members).add(name)
                        self.reasons[name] = f"used by {d.lident}"
                        added = True
            if not added:
                return

    def render(self):
        """New text per file."""
        pub = self.public_set()
        edits = defaultdict(dict)
        for d in self.decls:
            if d.public_tok is None:
                continue
            want = "public" if id(d) in pub else "package"
            if want != d.orig:
                edits[d.file][self.toks[d.file][d.public_tok].pos] = (d.orig, want)
        out = {}
        for p, (module, src) in self.files.items():
            text = src
            for pos, (old, new) in sorted(edits.get(p, {}).items(), reverse=True):
                assert text.startswith(old, pos), (p, pos)
                text = text[:pos] + new + text[pos + len(old):]
            out[p] = text
        return out

    def write(self, dry_run=False):
        changed = 0
        for p, text in self.render().items():
            with open(p, encoding="utf-8") as f:
                now = f.read()
            if now != text:
                changed += 1
                if not dry_run:
                    with open(p, "w", encoding="utf-8") as f:
                        f.write(text)
        return changed

    def counts(self, texts=None):
        c = defaultdict(int)
        for p, (module, src) in self.files.items():
            text = src if texts is None else texts[p]
            for t in lex(text):
                if t.kind == "id" and t.text == "public":
                    c[module] += 1
        return c

    # ------------------------------------------------------------ restoring from diagnostics

    def restore_decl(self, d, why):
        if d.kind == "extension":
            return False
        if id(d) in self.public_set():
            return False
        self.demote.discard(d.ident)
        self.demote.discard(d.lident)
        if id(d) in self.public_set():
            self.restored.append((d.lident, why))
            return True
        if d.toplevel or d.kind in TYPE_KEYWORDS or d.kind == "typealias":
            self.full.add(d.ident)
        else:
            self.members.add(d.lident)
        self.restored.append((d.lident, why))
        return True

    def decls_at(self, path, line):
        path = os.path.realpath(path)
        found = []
        for key in ((path, line),):
            for d in self.by_line.get(key, []):
                if d not in found:
                    found.append(d)
        # prefer declarations that carry a `public` and are not extensions
        return [d for d in found if d.public_tok is not None and d.kind != "extension"]

    def apply_diagnostics(self, diags):
        """diags: list of (path, line, severity, message, [notes]). Returns how many fixes."""
        fixes = 0
        pub = self.public_set()
        for path, line, sev, msg, notes in diags:
            if sev != "error":
                continue
            rp = os.path.realpath(path)
            ours = rp in self.real_files
            fixed = False
            # a note pointing at one of our declarations
            if re.search(r"inaccessible due to 'package'|is package and cannot be referenced|package type|is package|'package'", msg):
                for npath, nline, nmsg in notes:
                    for d in self.decls_at(npath, nline):
                        if id(d) not in pub and self.restore_decl(d, f"{os.path.basename(path)}:{line}: {msg}"):
                            fixes += 1
                            fixed = True
            if fixed:
                continue
            if ours and re.search(r"package", msg):
                for d in self.decls_at(rp, line):
                    if id(d) not in pub:
                        if self.restore_decl(d, msg):
                            fixes += 1
                            fixed = True
                    else:
                        for name in self.referenced(d, self.toks[d.file]):
                            for x in self.by_path.get(name, []):
                                if x.public_tok is not None and id(x) not in pub and self.restore_decl(x, f"used by {d.ident}: {msg}"):
                                    fixes += 1
                                    fixed = True
                        if not fixed and d.kind != "extension" and not d.toplevel:
                            self.demote.add(d.ident)
                            self.restored.append((d.ident, f"DEMOTED (nothing to restore found): {msg}"))
                            fixes += 1
                            fixed = True
            m = re.search(r"cannot find (?:type )?'([A-Za-z_][A-Za-z0-9_]*)' in scope", msg)
            if not fixed and m and m.group(1) in self.toplevel:
                for x in self.by_path.get(m.group(1), []):
                    if x.public_tok is not None and id(x) not in pub and self.restore_decl(x, f"{os.path.basename(path)}:{line}: {msg}"):
                        fixes += 1
                        fixed = True
            m = re.search(r"'([A-Za-z_][A-Za-z0-9_]*)(?:\(.*\))?' is inaccessible due to 'package'", msg)
            if not fixed and m:
                # no usable note: every package declaration of that name that a kept type holds
                cands = [d for d in self.decls if d.name == m.group(1) and d.public_tok is not None and id(d) not in pub]
                if len(cands) == 1 and self.restore_decl(cands[0], f"{os.path.basename(path)}:{line}: {msg}"):
                    fixes += 1
        return fixes


DIAG = re.compile(r"^(/[^:\n]+\.swift):(\d+):(\d+): (error|warning|note): (.*)$")


def parse_diagnostics(output):
    diags = []
    seen = set()
    for raw in output.splitlines():
        m = DIAG.match(raw.strip())
        if not m:
            continue
        path, line, _, sev, msg = m.group(1), int(m.group(2)), m.group(3), m.group(4), m.group(5)
        if sev == "note":
            if diags:
                diags[-1][4].append((path, line, msg))
            continue
        key = (path, line, msg)
        if key in seen:
            diags.append((path, line, "dup", msg, []))  # notes still attach somewhere harmless
            continue
        seen.add(key)
        diags.append((path, line, sev, msg, []))
    return diags


def run(cmd, cwd):
    print("+ " + " ".join(cmd) + f"   (in {cwd})", flush=True)
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def fuzz_typecheck(repo):
    """Type-checks Fuzz/Sources against the main build's modules as another package would."""
    code, out = run(["swift", "build", "--show-bin-path"], repo)
    bin_path = out.strip().splitlines()[-1] if code == 0 else os.path.join(repo, ".build", "debug")
    modules = os.path.join(bin_path, "Modules")
    if not os.path.isdir(modules):
        modules = bin_path
    srcs = sorted(os.path.join(repo, "Fuzz", "Sources", "TramontaneFuzz", f)
                  for f in os.listdir(os.path.join(repo, "Fuzz", "Sources", "TramontaneFuzz")) if f.endswith(".swift"))
    cmd = ["swiftc", "-typecheck", "-parse-as-library", "-package-name", "TramontaneFuzzCheck", "-I", modules]
    # C modules the library modules import (system-library targets, C targets, swift-crypto's)
    for entry in sorted(os.listdir(bin_path)) if os.path.isdir(bin_path) else []:
        mm = os.path.join(bin_path, entry, "module.modulemap")
        if entry.endswith(".build") and not entry.endswith("-tool.build") and os.path.exists(mm):
            cmd += ["-Xcc", "-fmodule-map-file=" + mm]
    for c in ("CShims", "CZstd", "CSignalCleanup"):
        d = os.path.join(repo, "Sources", c)
        mm = os.path.join(d, "module.modulemap")
        if not os.path.exists(mm):
            mm = os.path.join(d, "include", "module.modulemap")
        if os.path.exists(mm) and not any(mm_arg.endswith("/" + c + ".build/module.modulemap") for mm_arg in cmd):
            cmd += ["-Xcc", "-fmodule-map-file=" + mm]
        cmd += ["-Xcc", "-I" + d]
    return run(cmd + srcs, repo)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo")
    ap.add_argument("--no-build", action="store_true", help="only rewrite (keep list + signature closure)")
    ap.add_argument("--max-iterations", type=int, default=12)
    ap.add_argument("--fuzz", choices=["full", "quick", "none"], default="full",
                    help="full: quick type-check each round, then `swift build` in Fuzz/ (default)")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--report", action="store_true", help="print every kept declaration")
    args = ap.parse_args()

    s = Sweep(args.repo)
    s.real_files = {os.path.realpath(p) for p in s.files}
    before = s.counts()
    s.close()
    closure = sorted((n, r) for n, r in s.reasons.items() if r != "keep list")
    print(f"{len(s.decls)} declarations parsed in {len(s.files)} files")
    if closure:
        print("kept because a kept signature uses them:")
        for n, r in closure:
            print(f"  {s.toplevel.get(n.split('.')[0], '?')}.{n}  ({r})")
    changed = s.write(args.dry_run)
    print(f"rewrote {changed} files")
    nice = ["nice", "-n", "10"]
    iterations = 0
    ok = args.no_build or args.dry_run
    full_fuzz_done = args.fuzz != "full"
    while not ok and iterations < args.max_iterations:
        iterations += 1
        print(f"== round {iterations}", flush=True)
        code, out = run(nice + ["swift", "build", "--build-tests"], s.repo)
        if code == 0 and args.fuzz != "none":
            code, out = fuzz_typecheck(s.repo)
            if code == 0 and not full_fuzz_done:
                code, out = run(nice + ["swift", "build"], os.path.join(s.repo, "Fuzz"))
                full_fuzz_done = code == 0
        if code == 0:
            ok = True
            break
        diags = parse_diagnostics(out)
        n_before = len(s.restored)
        fixes = s.apply_diagnostics(diags)
        for ident, why in s.restored[n_before:]:
            print(f"  restored public: {ident}   <- {why}")
        if fixes == 0:
            print("build fails and no diagnostic could be mapped to a declaration:")
            for path, line, sev, msg, _ in diags:
                if sev == "error":
                    print(f"  {path}:{line}: {msg}")
            if not diags:
                print(out[-4000:])
            break
        s.close()
        s.write()
    after = s.counts(s.render())
    print("public per module (before -> after):")
    for m in MODULES:
        print(f"  {m:13} {before[m]:5} -> {after[m]:4}")
    print(f"  {'total':13} {sum(before.values()):5} -> {sum(after.values()):4}")
    print(f"build rounds: {iterations}; {'both builds pass' if ok and not args.no_build and not args.dry_run else 'NOT verified' if not ok else 'no build run'}")
    if s.restored:
        print("restored from compiler diagnostics (fold these into KEEP to skip the rounds):")
        for ident, why in s.restored:
            print(f"  {ident}")
    if args.report:
        pub = s.public_set()
        for d in s.decls:
            if id(d) in pub:
                print("  public", d.module, d.kind, d.lident, f"{os.path.basename(d.file)}:{d.line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

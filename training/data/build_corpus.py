#!/usr/bin/env python3
"""Turn unpacked Debian documentation packages into a clean English byte corpus.

Called by build_corpus.sh (which downloads and unpacks the packages). Standard library only.

Steps
  1. collect documents per source (one document = one file / man page / POD / Bible book /
     fortune file; documents over 24 KiB are cut at blank lines into parts of about 12 KiB,
     each part a document of its own);
  2. clean each document (Unicode NFKC, typographic punctuation to ASCII, tabs to spaces,
     control and exotic characters dropped, trailing spaces stripped, runs of blank lines
     squeezed); documents that are not mostly ASCII (> 1% other characters) are dropped;
  3. drop exact duplicate documents; cap each source at a byte budget (documents taken in
     sha1(name) order, so the choice is deterministic);
  4. split by document: validation takes, from each source in sha1(name) order, documents
     until that source's share (proportional to its bytes) of the 256 KiB budget is used;
     everything else is training text;
  5. paragraph dedupe: any paragraph of >= 160 bytes already seen (validation first, then
     training, in sha1 order) is removed, so boilerplate is kept once and no long validation
     paragraph also occurs in the training text.
Documents are joined with two blank lines ("\\n\\n\\n").
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor

MiB = 1 << 20
VAL_BUDGET = 256 * 1024 - 64  # validation.txt must stay <= 256 KiB
SEP = "\n\n\n"

# source name -> (cap in bytes after cleaning, description)
CAPS = {
    "kjv": (6 * MiB, "bible-kjv-text: King James Bible, one document per book"),
    "fortunes": (4 * MiB, "fortunes, fortunes-min: fortune cookie files (offensive ones excluded)"),
    "jargon": (2 * MiB, "jargon-text: The Jargon File 4.4.7"),
    "gnu-standards": (1 * MiB, "gnu-standards: GNU coding standards, GNU maintainer information (text)"),
    "debian-docs": (4 * MiB, "debian-reference-en, debian-faq, debian-policy, developers-reference (text / rst)"),
    "man": (8 * MiB, "manpages, manpages-dev: Linux man pages rendered with man --nh --nj -l (80 columns) | col -bx"),
    "perl": (6 * MiB, "perl-doc: perl core POD rendered with pod2text"),
    "python": (6 * MiB, "python3.11-doc: Python 3.11 documentation, reStructuredText sources"),
    "linux": (6 * MiB, "linux-doc-6.1: Linux kernel Documentation/*.rst"),
    "git": (2 * MiB, "git-doc: git manual pages and guides, AsciiDoc sources"),
    "bash": (1 * MiB, "bash-doc: Bash reference manual (info)"),
}


def read_any(path):
    data = open(path, "rb").read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **kw)
    return r.stdout.decode("utf-8", errors="replace")


def files_under(root, pred):
    out = []
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            if pred(p) and os.path.isfile(p) and not os.path.islink(p):
                out.append(p)
    return sorted(out)


# ----------------------------------------------------------------------------------------
# collectors: each returns a list of (name, text)

def c_kjv(x, work):
    txt = open(os.path.join(work, "text", "kjv.txt"), encoding="utf-8", errors="replace").read()
    docs, cur, book = [], [], None
    for line in txt.split("\n"):
        m = re.fullmatch(r"(.+?) (\d+)", line.strip())
        if m and not line.startswith(" ") and re.fullmatch(r"(\d )?[A-Z][A-Za-z ]+", m.group(1)):
            if m.group(1) != book and cur:
                docs.append((f"kjv/{book}", "\n".join(cur)))
                cur = []
            book = m.group(1)
            cur.append(f"Chapter {m.group(2)}" if cur else f"{book}\n\nChapter {m.group(2)}")
            continue
        cur.append(line)
    if cur:
        docs.append((f"kjv/{book}", "\n".join(cur)))
    return docs


def c_fortunes(x, work):
    docs = []
    for pkg in ("fortunes", "fortunes-min"):
        d = os.path.join(x, pkg, "usr/share/games/fortunes")
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            p = os.path.join(d, f)
            if f.endswith(".dat") or f.endswith(".u8") or os.path.isdir(p) or os.path.islink(p):
                continue
            if f in ("translate-me", "ascii-art", "art"):
                continue
            t = read_any(p)
            # entries are separated by lines holding a single '%'; keep them, as blank-line breaks
            t = re.sub(r"\n%\n", "\n\n", "\n" + t).strip()
            docs.append((f"fortunes/{pkg}/{f}", t))
    return docs


def c_jargon(x, work):
    p = os.path.join(x, "jargon-text/usr/share/doc/jargon-text/jargon.txt.gz")
    return [("jargon/jargon.txt", read_any(p))]


def c_gnu(x, work):
    d = os.path.join(x, "gnu-standards/usr/share/doc/gnu-standards")
    return [(f"gnu-standards/{f}", read_any(os.path.join(d, f)))
            for f in ("standards.text.gz", "maintain.text.gz")]


def c_debian(x, work):
    docs = []
    p = os.path.join(x, "debian-reference-en/usr/share/debian-reference/debian-reference.en.txt.gz")
    docs.append(("debian-reference/debian-reference.en.txt", read_any(p)))
    p = os.path.join(x, "debian-faq/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
    docs.append(("debian-faq/debian-faq.en.txt", read_any(p)))
    d = os.path.join(x, "debian-policy/usr/share/doc/debian-policy")
    for f in sorted(os.listdir(d)):
        if f.endswith(".txt.gz") or f.endswith(".txt"):
            docs.append((f"debian-policy/{f}", read_any(os.path.join(d, f))))
    for p in files_under(os.path.join(x, "developers-reference"), lambda p: p.endswith(".rst.txt")):
        docs.append((f"developers-reference/{os.path.basename(p)}", read_any(p)))
    return docs


def render_man(p):
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING")
    r = subprocess.run(f"man --nh --nj -l -P cat -E UTF-8 '{p}' 2>/dev/null | col -bx", shell=True,
                       stdout=subprocess.PIPE, env=env)
    return r.stdout.decode("utf-8", errors="replace")


def c_man(x, work):
    paths = []
    for pkg in ("manpages", "manpages-dev"):
        paths += files_under(os.path.join(x, pkg, "usr/share/man"),
                             lambda p: re.search(r"/man\d[^/]*/[^/]+\.\w+\.gz$", p) is not None)
    # skip one-line ".so" redirections
    real = [p for p in paths if not read_any(p).lstrip().startswith(".so ")]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        texts = list(ex.map(render_man, real))
    return [(f"man/{os.path.relpath(p, x)}", t) for p, t in zip(real, texts) if t.strip()]


def c_perl(x, work):
    paths = files_under(os.path.join(x, "perl-doc"), lambda p: p.endswith(".pod"))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        texts = list(ex.map(lambda p: run(["pod2text", "-w", "79", p]), paths))
    return [(f"perl/{os.path.basename(p)}", t) for p, t in zip(paths, texts)]


def c_python(x, work):
    root = os.path.join(x, "python3.11-doc/usr/share/doc/python3.11/html/_sources")
    paths = files_under(root, lambda p: p.endswith(".rst.txt"))
    # changelog / whatsnew are long lists of bug numbers: leave them out
    paths = [p for p in paths if "/whatsnew/" not in p and "changelog" not in p]
    return [(f"python/{os.path.relpath(p, root)}", read_any(p)) for p in paths]


def c_linux(x, work):
    root = os.path.join(x, "linux-doc-6.1/usr/share/doc/linux-doc-6.1/Documentation")
    paths = files_under(root, lambda p: p.endswith(".rst.gz") or p.endswith(".txt.gz"))
    skip = ("/translations/", "/ABI/", "/devicetree/", "/netlink/")
    paths = [p for p in paths if not any(s in p for s in skip)]
    return [(f"linux/{os.path.relpath(p, root)}", read_any(p)) for p in paths]


def c_git(x, work):
    root = os.path.join(x, "git-doc/usr/share/doc/git-doc")
    paths = files_under(root, lambda p: p.endswith(".txt"))
    paths = [p for p in paths if "/RelNotes/" not in p]
    return [(f"git/{os.path.relpath(p, root)}", read_any(p)) for p in paths]


def c_bash(x, work):
    p = os.path.join(x, "bash-doc/usr/share/info/bash.info.gz")
    t = read_any(p).replace("\x1f", "\n")
    t = re.sub(r"\n(File: bash\.info,[^\n]*)\n", "\n", t)
    return [("bash/bash.info", t)]


COLLECT = {
    "kjv": c_kjv, "fortunes": c_fortunes, "jargon": c_jargon, "gnu-standards": c_gnu,
    "debian-docs": c_debian, "man": c_man, "perl": c_perl, "python": c_python,
    "linux": c_linux, "git": c_git, "bash": c_bash,
}

# ----------------------------------------------------------------------------------------
# cleaning

TYPO = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "--", "\u2015": "--",
    "\u2212": "-", "\u2026": "...", "\u2022": "*", "\u00b7": "*", "\u00a0": " ", "\u2002": " ",
    "\u2003": " ", "\u2009": " ", "\u200b": "", "\ufeff": "", "\u00ad": "", "\u2192": "->",
    "\u2190": "<-", "\u21d2": "=>", "\u00d7": "x", "\u2264": "<=", "\u2265": ">=",
    "\u2260": "!=", "\ufffd": "",
}
TYPO_RE = re.compile("|".join(map(re.escape, TYPO)))
# box drawing / block characters (jargon file rules, man page tables) become ASCII
BOX_RE = re.compile("[\u2500-\u257f]")
BLOCK_RE = re.compile("[\u2580-\u259f\u25a0-\u25ff]")


def keep_char(ch):
    o = ord(ch)
    if ch == "\n" or 0x20 <= o < 0x7F:
        return True
    if o < 0xA0:
        return False
    # keep letters, digits, punctuation and symbols of Latin / Greek blocks; drop the rest
    return o < 0x0400 and unicodedata.category(ch)[0] in "LNPS"


def clean(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = TYPO_RE.sub(lambda m: TYPO[m.group(0)], text)
    text = BOX_RE.sub("-", text)
    text = BLOCK_RE.sub("*", text)
    text = unicodedata.normalize("NFKC", text)
    text = TYPO_RE.sub(lambda m: TYPO[m.group(0)], text)
    lines = [ln.expandtabs(8).rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    text = "".join(ch for ch in text if keep_char(ch))
    text = "\n".join(ln.rstrip() for ln in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    return text


def non_ascii_ratio(text):
    if not text:
        return 1.0
    return sum(1 for ch in text if ord(ch) >= 0x80) / len(text)


def split_big(name, text, hi=24 * 1024, target=12 * 1024):
    """Cut a document longer than `hi` bytes at paragraph boundaries into ~target-byte parts."""
    if len(text.encode()) <= hi:
        return [(name, text)]
    paras = text.split("\n\n")
    parts, cur, size = [], [], 0
    for p in paras:
        b = len(p.encode()) + 2
        if cur and size + b > target:
            parts.append("\n\n".join(cur))
            cur, size = [], 0
        cur.append(p)
        size += b
    if cur:
        parts.append("\n\n".join(cur))
    return [(f"{name}#part{i:03d}", t) for i, t in enumerate(parts)]


def h(s):
    return hashlib.sha1(s.encode()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="folder holding one unpacked folder per package")
    ap.add_argument("--work", required=True)
    ap.add_argument("--versions", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--val-out", required=True)
    a = ap.parse_args()

    sources = {}
    seen_docs = set()
    for src, fn in COLLECT.items():
        raw = fn(a.root, a.work)
        docs = []
        for name, t in raw:
            t = clean(t)
            if len(t) < 200 or non_ascii_ratio(t) > 0.01:
                continue
            k = h(t)
            if k in seen_docs:
                continue
            seen_docs.add(k)
            docs += split_big(name, t)
        docs.sort(key=lambda d: h(d[0]))
        cap = CAPS[src][0]
        kept, size = [], 0
        for name, t in docs:
            b = len(t.encode())
            if size + b > cap:
                continue
            kept.append((name, t))
            size += b
        sources[src] = kept
        print(f"{src:14s} {len(raw):6d} raw docs -> {len(kept):6d} docs, {size / MiB:6.2f} MiB",
              file=sys.stderr)

    total = sum(len(t.encode()) for docs in sources.values() for _, t in docs)
    # validation: proportional share of each source, documents in sha1(name) order
    val, train = [], []
    for src, docs in sources.items():
        sb = sum(len(t.encode()) for _, t in docs)
        quota = int(VAL_BUDGET * sb / total)
        used = 0
        for name, t in docs:
            b = len(t.encode()) + len(SEP)
            if used + b <= quota and b <= 48 * 1024:
                val.append((src, name, t))
                used += b
            else:
                train.append((src, name, t))

    # paragraph-level dedupe, validation first
    seen_par = set()

    def dedupe(t):
        out = []
        for p in t.split("\n\n"):
            if len(p) >= 160:
                k = h(p.strip())
                if k in seen_par:
                    continue
                seen_par.add(k)
            out.append(p)
        return "\n\n".join(out)

    val = [(s, n, dedupe(t)) for s, n, t in val]
    train = [(s, n, dedupe(t)) for s, n, t in train]
    train = [(s, n, t) for s, n, t in train if len(t) >= 200]

    # training order: interleave documents deterministically (sha1 of name) so that any
    # contiguous window mixes sources
    train.sort(key=lambda d: h("order:" + d[1]))
    val.sort(key=lambda d: h("order:" + d[1]))

    val_text = SEP.join(t for _, _, t in val) + "\n"
    while len(val_text.encode()) > 256 * 1024:  # safety: never exceed the budget
        val.pop()
        val_text = SEP.join(t for _, _, t in val) + "\n"
    train_text = SEP.join(t for _, _, t in train) + "\n"

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "train.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(train_text)
    with open(a.val_out, "w", encoding="utf-8", newline="\n") as f:
        f.write(val_text)

    versions = dict(line.split(" ", 1) for line in open(a.versions).read().split("\n") if line.strip())
    per_src = {}
    for src in sources:
        tb = sum(len(t.encode()) + len(SEP) for s, _, t in train if s == src)
        vb = sum(len(t.encode()) + len(SEP) for s, _, t in val if s == src)
        per_src[src] = {
            "description": CAPS[src][1], "cap_bytes": CAPS[src][0],
            "train_docs": sum(1 for s, _, _ in train if s == src), "train_bytes": tb,
            "val_docs": sum(1 for s, _, _ in val if s == src), "val_bytes": vb,
        }
    tb = train_text.encode()
    manifest = {
        "debian": "12 (bookworm), main",
        "packages": versions,
        "train_bytes": len(tb),
        "train_sha256": hashlib.sha256(tb).hexdigest(),
        "val_bytes": len(val_text.encode()),
        "val_sha256": hashlib.sha256(val_text.encode()).hexdigest(),
        "non_ascii_bytes_train": sum(1 for b in tb if b >= 0x80),
        "document_separator": "\\n\\n\\n",
        "sources": per_src,
        "validation_documents": [n for _, n, _ in val],
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"train {len(tb) / MiB:.2f} MiB in {len(train)} docs; validation {len(val_text.encode())} "
          f"bytes in {len(val)} docs", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Debian text packages -> normalised English sentences for speech synthesis (stdlib only).

Called by prepare-text.sh, which downloads and unpacks the packages. Deterministic for a seed.

Sources (all under --root, the packages unpacked together):
  kjv       bible-kjv-text: King James Bible, verses (text decompressed by `bible`, --kjv)
  fortunes  fortunes, fortunes-min: fortune cookie files (the offensive ones are another package,
            not used; art, ascii-art and translate-me are skipped)
  jargon    jargon-text: The Jargon File 4.4.7
  devil     dict-devil: Ambrose Bierce, The Devil's Dictionary
  wordnet   wordnet-base: WordNet 3.0 glosses (definitions) and their quoted usage examples
  words     wamerican: random sequences of 3-8 dictionary words (vocabulary coverage; no grammar)

Normalisation (the CTC alphabet is a-z, space, apostrophe; the TTS must say exactly the words
of the transcript, so anything a TTS engine would expand or spell is dropped, not guessed):
  1. NFKC; typographic quotes/apostrophes/dashes to ASCII; "--", "-" and "/" to a space.
  2. The sentence is DROPPED if it contains: a digit; a character other than letters, space and
     . , ; : ! ? ' " ( ) (e.g. & % $ @ # * + = < > _ [ ] { } | ~ ^); a word with 2+ capital
     letters (acronyms, roman numerals, shouting: TTS may spell them), except the KJV's
     LORD / GOD, which are recased first; a period inside a word or a common abbreviation
     (mr mrs dr st etc vs jr sr e.g. i.e.: TTS expands them); a one-letter word other than
     a / i / o (TTS says the letter's name).
  3. Lowercase; every character outside a-z, space and apostrophe is removed; apostrophes at
     the start or end of a word are removed (quotes), inner ones kept (don't, o'clock);
     whitespace collapsed.
  4. Kept if it has 3..28 words and 12..180 characters (about 1-10 s of speech at 175 wpm).
Sentence splitting: paragraphs (blank-line separated) are joined and cut after . ! ? followed
by whitespace and an upper-case letter or a quote; WordNet glosses are split at ';'.

Dedupe: exact duplicates of the normalised text are removed (first occurrence in source order).
Caps: each source is capped at CAPS[source] sentences, sampled with random.Random(seed).
Split: each sentence goes to test when int(sha1(f"{seed}:{text}"), 16) % 1000 < TEST_PERMILLE
(stratified by construction: the same rate in every source); test is then capped at TEST_MAX
per source (seeded sample); everything else is train. A test sentence never occurs in train.
"""
import argparse
import gzip
import hashlib
import json
import lzma
import os
import random
import re
import unicodedata

# per-source cap on sentences (before the train/test split)
CAPS = {
    "kjv": 45000,
    "fortunes": 60000,
    "jargon": 20000,
    "devil": 10000,
    "wordnet": 70000,
    "words": 12000,
}
TEST_PERMILLE = 20  # 2% of each source is test...
TEST_MAX = 600  # ...at most this many sentences per source
MIN_WORDS, MAX_WORDS = 3, 28
MIN_CHARS, MAX_CHARS = 12, 180

LICENCES = {
    "kjv": "King James Version text: public domain (Crown patent in the UK only); "
    "bible-kjv-text packaging GPL-2+",
    "fortunes": "BSD (4.4BSD fortune files, Debian package fortunes/fortunes-min); "
    "individual quotations are short citations of various authors",
    "jargon": "The Jargon File: public domain",
    "devil": "The Devil's Dictionary (Bierce, 1911): public domain",
    "wordnet": "WordNet 3.0 licence (Princeton; permissive, BSD-like, attribution)",
    "words": "SCOWL / wamerican word list: public domain and permissive (see its copyright)",
}

PUNCT_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": " ", "\u2014": " ", "\u2012": " ", "\u2015": " ", "\u2212": " ",
    "\u2026": ".", "\u00a0": " ",
}
ALLOWED = re.compile(r"^[A-Za-z .,;:!?'\"()]*$")
ABBREV = {"mr", "mrs", "ms", "dr", "st", "etc", "vs", "jr", "sr", "prof", "no", "vol", "ch", "cf"}
SENT_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')]))\s+(?=[A-Z\"'(])")


def sha_int(s):
    return int(hashlib.sha1(s.encode("utf-8")).hexdigest(), 16)


def normalise(raw, recase=()):
    """Return the normalised sentence (a-z, space, apostrophe) or None if it must be dropped."""
    s = unicodedata.normalize("NFKC", raw)
    s = "".join(PUNCT_MAP.get(ch, ch) for ch in s)
    s = s.replace("--", " ").replace("-", " ").replace("/", " ")
    s = " ".join(s.split())
    if not s or not ALLOWED.match(s):
        return None  # digits, symbols, non-Latin letters
    for w in recase:
        s = re.sub(rf"\b{w}\b", w.capitalize(), s)
    words = s.split(" ")
    for w in words:
        core = w.strip(".,;:!?'\"()")
        if sum(1 for c in core if c.isupper()) >= 2:
            return None  # acronym / roman numeral / shouting
        if "." in core:
            return None  # e.g. i.e. U.S.
        if core.lower() in ABBREV and w.rstrip("\"')").endswith("."):
            return None  # Mr. Dr. etc.
    s = re.sub(r"[^a-z' ]", " ", s.lower())
    out = []
    for w in s.split():
        w = w.strip("'")
        if not w:
            continue
        if len(w) == 1 and w not in ("a", "i", "o"):
            return None
        out.append(w)
    if not (MIN_WORDS <= len(out) <= MAX_WORDS):
        return None
    t = " ".join(out)
    if not (MIN_CHARS <= len(t) <= MAX_CHARS):
        return None
    return t


def split_sentences(paragraph):
    p = " ".join(paragraph.split())
    return [x for x in SENT_END.split(p) if x]


def paragraphs(text):
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def read_text(path):
    data = open(path, "rb").read()
    if path.endswith((".gz", ".dz")):
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- collectors: yield raw sentences

def c_kjv(root, kjv_path):
    text = open(kjv_path, encoding="utf-8", errors="replace").read()
    # verses start with "  N "; chapter headings ("Genesis 1") stand alone
    verse = []
    for line in text.splitlines():
        m = re.match(r"^\s+\d+\s+(.*)$", line)
        if m:
            if verse:
                yield from split_sentences(" ".join(verse))
            verse = [m.group(1)]
        elif line.strip() and verse:
            verse.append(line)
        elif not line.strip() and verse:
            yield from split_sentences(" ".join(verse))
            verse = []
    if verse:
        yield from split_sentences(" ".join(verse))


def c_fortunes(root, _):
    d = os.path.join(root, "usr/share/games/fortunes")
    skip = {"art", "ascii-art", "translate-me"}
    for name in sorted(os.listdir(d)):
        if "." in name or name in skip:
            continue
        for cookie in read_text(os.path.join(d, name)).split("\n%\n"):
            lines = [ln for ln in cookie.splitlines() if not ln.strip().startswith("--")]
            for para in paragraphs("\n".join(lines)):
                yield from split_sentences(para)


def c_jargon(root, _):
    text = read_text(os.path.join(root, "usr/share/doc/jargon-text/jargon.txt.gz"))
    for para in paragraphs(text):
        yield from split_sentences(para)


def c_devil(root, _):
    text = read_text(os.path.join(root, "usr/share/dictd/devil.dict.dz"))
    for para in paragraphs(text):
        # drop the headword ("ABNORMAL, adj.") at the start of an entry
        para = re.sub(r"^\s*[A-Z][A-Z' -]+,\s*(n|v|adj|adv|x|pp|pro|prep|conj|interj)\.\s*", "", para)
        yield from split_sentences(para)


def c_wordnet(root, _):
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(root, f"usr/share/wordnet/data.{pos}"), encoding="utf-8",
                  errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                gloss = line.split("|", 1)[1].strip()
                for part in gloss.split(";"):
                    part = part.strip().strip('"').strip()
                    if part:
                        yield part


def c_words(root, _, seed=0):
    words = []
    for w in read_text(os.path.join(root, "usr/share/dict/american-english")).split():
        if re.fullmatch(r"[a-z]+('[a-z]+)?", w) and len(w) > 1:
            words.append(w)
    rng = random.Random(seed)
    for _ in range(CAPS["words"] * 2):
        yield " ".join(rng.choice(words) for _ in range(rng.randint(3, 8)))


COLLECTORS = {
    "kjv": c_kjv, "fortunes": c_fortunes, "jargon": c_jargon, "devil": c_devil,
    "wordnet": c_wordnet, "words": c_words,
}


def build(root, kjv_path, seed):
    seen = set()
    per_source = {}
    stats = {}
    for name, fn in COLLECTORS.items():
        raw = list(fn(root, kjv_path, seed) if name == "words" else fn(root, kjv_path))
        kept = []
        recase = ("LORD", "GOD") if name == "kjv" else ()
        for r in raw:
            t = normalise(r, recase)
            if t and t not in seen:
                seen.add(t)
                kept.append(t)
        rng = random.Random(f"{seed}:{name}")
        capped = kept if len(kept) <= CAPS[name] else rng.sample(kept, CAPS[name])
        per_source[name] = capped
        stats[name] = {"raw": len(raw), "normalised_unique": len(kept), "kept": len(capped)}
    train, test = [], []
    for name, sents in per_source.items():
        te = [t for t in sents if sha_int(f"{seed}:{t}") % 1000 < TEST_PERMILLE]
        if len(te) > TEST_MAX:
            te = random.Random(f"{seed}:test:{name}").sample(te, TEST_MAX)
        tes = set(te)
        tr = [t for t in sents if t not in tes]
        # shuffle train (seeded) so that any prefix of the file is a mix of sources
        train += [(name, t) for t in tr]
        test += [(name, t) for t in sorted(te)]
        stats[name].update(train=len(tr), test=len(te),
                           train_words=sum(len(t.split()) for t in tr))
    random.Random(f"{seed}:shuffle").shuffle(train)
    return train, test, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="folder the text packages are unpacked into")
    ap.add_argument("--kjv", required=True, help="KJV text written by `bible`")
    ap.add_argument("--versions", required=True, help="'package version' lines")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--out", required=True)
    ap.add_argument("--manifest", required=True)
    a = ap.parse_args()
    train, test, stats = build(a.root, a.kjv, a.seed)
    os.makedirs(a.out, exist_ok=True)
    digests = {}
    for fname, rows in (("train.tsv.xz", train), ("test.tsv.xz", test)):
        data = "".join(f"{s}\t{t}\n" for s, t in rows).encode("utf-8")
        digests[fname] = hashlib.sha256(data).hexdigest()
        with lzma.open(os.path.join(a.out, fname), "wb", preset=9) as f:
            f.write(data)
    versions = dict(line.split(" ", 1) for line in open(a.versions).read().split("\n") if line)
    manifest = {
        "seed": a.seed,
        "packages": versions,
        "licences": LICENCES,
        "caps": CAPS,
        "test_permille": TEST_PERMILLE,
        "test_max_per_source": TEST_MAX,
        "words": [MIN_WORDS, MAX_WORDS],
        "chars": [MIN_CHARS, MAX_CHARS],
        "sources": stats,
        "train_sentences": len(train),
        "test_sentences": len(test),
        "sha256_uncompressed": digests,
    }
    with open(a.manifest, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(json.dumps(stats, indent=1))
    print(f"train {len(train)} test {len(test)}")


if __name__ == "__main__":
    main()

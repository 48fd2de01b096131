#!/usr/bin/env python3
"""Word counts of the training sentences: the lexicon (unigram word LM) that the speech
model's beam search can fuse (packages/audio WordLexicon), and the word-pair counts beside it
(OUT.bigrams.tsv.gz: `history<TAB>word<TAB>count`, pairs seen at least --min-pair times;
`<s>` is the start of a sentence, and the line `<s><TAB>*<TAB>N` gives the number of sentences),
and the word triples (OUT.trigrams.tsv.gz: `u v<TAB>word<TAB>count`, the two-word history
separated by a space, `<s> v` for a sentence's second word; seen at least --min-triple times,
which must be at least --min-pair, so that every history is a kept pair, whose count is the
history's total).

    python3 training/audio/make_lexicon.py .gpu/speech/text/train.tsv.xz OUT.tsv [--sentences N]
        [--exclude A:B[,C:D...]] [--min-pair 2] [--min-triple 2] [--dictionary FILE --dictionary-count C]

Counts the words of the first N training sentences (default 100,000 of 129,311), leaving out
sentences A..B-1 (--exclude, ranges separated by commas; the dev sets on which the fusion
settings are tuned: sentences 100,000..100,299, rendered by `synthesize.py --split train --utts
100300 --start-shard 200`, and dev set 2's 128,000..128,999, read by the dev voice clb).
With --dictionary, each word of a word list (one a line, e.g. SCOWL's american-english from
the wamerican package) that the sentences lack is added with count C (default 1: as rare as
the rarest word seen), so that correctly spelled rare words are not scored as out of the
lexicon; words with characters outside a-z and the apostrophe are skipped. Writes
`word<TAB>count`, most frequent first. Test sentences are never read.
"""
import argparse
import collections
import gzip
import lzma
import re


def exclusions(spec, ap):
    """The sentence ranges `A:B,C:D` names, as ranges (an empty spec: none)."""
    out = []
    for part in filter(None, spec.split(',')):
        bounds = part.split(':')
        if len(bounds) != 2 or not all(b.strip().isdigit() for b in bounds) or int(bounds[0]) >= int(bounds[1]):
            ap.error(f'--exclude: {part!r} is not a range A:B of sentence numbers with A < B')
        out.append(range(int(bounds[0]), int(bounds[1])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('train_tsv')
    ap.add_argument('out')
    ap.add_argument('--sentences', type=int, default=100_000)
    ap.add_argument('--exclude', default='', help='A:B[,C:D...]: leave out sentences A..B-1 (and C..D-1: the dev sets)')
    ap.add_argument('--min-pair', type=int, default=2, help='keep word pairs seen at least this often')
    ap.add_argument('--min-triple', type=int, default=2, help='keep word triples seen at least this often (0: none)')
    ap.add_argument('--dictionary', default='', help='a word list whose words are added with --dictionary-count')
    ap.add_argument('--dictionary-count', type=float, default=1.0)
    a = ap.parse_args()
    if a.min_triple and a.min_triple < a.min_pair:
        ap.error('--min-triple must be 0 or at least --min-pair (the history of a triple must be a kept pair)')
    skip = exclusions(a.exclude, ap)
    counts = collections.Counter()
    pairs = collections.Counter()
    triples = collections.Counter()
    n = 0
    with lzma.open(a.train_tsv, 'rt', encoding='utf-8') as f:
        for i, line in enumerate(f):
            if i >= a.sentences:
                break
            if any(i in r for r in skip):
                continue
            words = line.rstrip('\n').split('\t', 1)[1].split()
            counts.update(words)
            pairs.update(zip(['<s>'] + words, words))
            if a.min_triple:
                triples.update(zip(['<s>'] + words, words, words[1:]))
            n += 1
    sentence_words = len(counts)
    added = 0
    if a.dictionary:
        with open(a.dictionary, encoding='utf-8') as f:
            for line in f:
                w = line.strip().lower()
                if w and w not in counts and re.fullmatch(r"[a-z']+", w):
                    counts[w] = a.dictionary_count
                    added += 1
    with open(a.out, 'w', encoding='utf-8') as f:
        for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])):
            f.write(f'{w}\t{c:g}\n')
    kept = sorted(((h, w, c) for (h, w), c in pairs.items() if c >= a.min_pair), key=lambda x: (x[0], -x[2], x[1]))
    bigram_path = (a.out[:-4] if a.out.endswith('.tsv') else a.out) + '.bigrams.tsv.gz'
    # mtime 0: the same text gives the same bytes
    # (no file name in the gzip header either)
    with open(bigram_path, 'wb') as raw, gzip.GzipFile('', 'wb', 9, raw, mtime=0) as g:
        g.write(f'<s>\t*\t{n}\n'.encode())
        g.write(''.join(f'{h}\t{w}\t{c}\n' for h, w, c in kept).encode())
    triple_note = ''
    if a.min_triple:
        kept3 = sorted(((f'{u} {v}', w, c) for (u, v, w), c in triples.items() if c >= a.min_triple),
                       key=lambda x: (x[0], -x[2], x[1]))
        trigram_path = bigram_path[:-len('.bigrams.tsv.gz')] + '.trigrams.tsv.gz'
        with open(trigram_path, 'wb') as raw, gzip.GzipFile('', 'wb', 9, raw, mtime=0) as g:
            g.write(''.join(f'{h}\t{w}\t{c}\n' for h, w, c in kept3).encode())
        triple_note = f'; {trigram_path}: {len(kept3):,} of {len(triples):,} word triples (seen {a.min_triple}+ times)'
    print(f'{a.out}: {sentence_words:,} words, {sum(counts.values()) - added * a.dictionary_count:,.0f} tokens '
          f'from {n:,} sentences, {added:,} more from {a.dictionary or "no dictionary"}; '
          f'{bigram_path}: {len(kept):,} of {len(pairs):,} word pairs (seen {a.min_pair}+ times){triple_note}')


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Word counts of the training sentences: the lexicon (unigram word LM) that the speech
model's beam search can fuse (packages/audio WordLexicon), and the word-pair counts beside it
(OUT.bigrams.tsv.gz: `history<TAB>word<TAB>count`, pairs seen at least --min-pair times;
`<s>` is the start of a sentence, and the line `<s><TAB>*<TAB>N` gives the number of sentences).

    python3 training/audio/make_lexicon.py .gpu/speech/text/train.tsv.xz OUT.tsv [--sentences N] [--min-pair 2]

Counts the words of the first N training sentences (default 100,000 of 129,311: the rest,
never used by the first training run, are where the fusion weight is tuned, so they stay
out). Writes `word<TAB>count`, most frequent first. Test sentences are never read.
"""
import argparse
import collections
import gzip
import lzma


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('train_tsv')
    ap.add_argument('out')
    ap.add_argument('--sentences', type=int, default=100_000)
    ap.add_argument('--min-pair', type=int, default=2, help='keep word pairs seen at least this often')
    a = ap.parse_args()
    counts = collections.Counter()
    pairs = collections.Counter()
    n = 0
    with lzma.open(a.train_tsv, 'rt', encoding='utf-8') as f:
        for i, line in enumerate(f):
            if i >= a.sentences:
                break
            words = line.rstrip('\n').split('\t', 1)[1].split()
            counts.update(words)
            pairs.update(zip(['<s>'] + words, words))
            n += 1
    with open(a.out, 'w', encoding='utf-8') as f:
        for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])):
            f.write(f'{w}\t{c}\n')
    kept = sorted(((h, w, c) for (h, w), c in pairs.items() if c >= a.min_pair), key=lambda x: (x[0], -x[2], x[1]))
    bigram_path = (a.out[:-4] if a.out.endswith('.tsv') else a.out) + '.bigrams.tsv.gz'
    # mtime 0: the same text gives the same bytes
    with gzip.GzipFile(bigram_path, 'wb', compresslevel=9, mtime=0) as g:
        g.write(f'<s>\t*\t{n}\n'.encode())
        g.write(''.join(f'{h}\t{w}\t{c}\n' for h, w, c in kept).encode())
    print(f'{a.out}: {len(counts):,} words, {sum(counts.values()):,} tokens from {n:,} sentences; '
          f'{bigram_path}: {len(kept):,} of {len(pairs):,} word pairs (seen {a.min_pair}+ times)')


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Word counts of the training sentences: the lexicon (unigram word LM) that the speech
model's beam search can fuse (packages/audio WordLexicon).

    python3 training/audio/make_lexicon.py .gpu/speech/text/train.tsv.xz OUT.tsv [--sentences N]

Counts the words of the first N training sentences (default 100,000 of 129,311: the rest,
never used by the first training run, are where the fusion weight is tuned, so they stay
out). Writes `word<TAB>count`, most frequent first. Test sentences are never read.
"""
import argparse
import collections
import lzma


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('train_tsv')
    ap.add_argument('out')
    ap.add_argument('--sentences', type=int, default=100_000)
    a = ap.parse_args()
    counts = collections.Counter()
    with lzma.open(a.train_tsv, 'rt', encoding='utf-8') as f:
        for i, line in enumerate(f):
            if i >= a.sentences:
                break
            counts.update(line.rstrip('\n').split('\t', 1)[1].split())
    with open(a.out, 'w', encoding='utf-8') as f:
        for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])):
            f.write(f'{w}\t{c}\n')
    print(f'{a.out}: {len(counts):,} words, {sum(counts.values()):,} tokens from {min(i, a.sentences):,} sentences')


if __name__ == '__main__':
    main()

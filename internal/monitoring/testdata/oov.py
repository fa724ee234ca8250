"""Writes testdata/oov.json: the out-of-vocabulary rate of models/spam/v1 for
the SpamAssassin held-out texts and the sentiment reviews, computed by real
scikit-learn exactly as python/train_samples.py computes the manifest's
reference (keys: the first 16 hex digits of sha256(text)).

Run from the repository root: .venv/bin/python internal/monitoring/testdata/oov.py
"""

import csv
import hashlib
import json
import sys
from pathlib import Path

import joblib

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python"))
from mlserve_data import spam  # noqa: E402
from train_samples import oov_rates  # noqa: E402

model = joblib.load(ROOT / "models" / "spam" / "v1" / "model.joblib")
_, _, held, _ = spam.load_split()
with open(ROOT / "python" / "data" / "sentiment.csv", newline="") as f:
    reviews = [r["text"] for r in csv.DictReader(f)]
texts = held + reviews
out = {hashlib.sha256(t.encode()).hexdigest()[:16]: round(r, 6) for t, r in zip(texts, oov_rates(model, texts))}
(Path(__file__).parent / "oov.json").write_text(json.dumps(out, sort_keys=True, indent=0) + "\n")
print(len(out), "texts")

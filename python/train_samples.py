"""Train mlserve's sample repository: models/sentiment/v1, v2 and models/spam/v1.

Run from the repo root after scripts/setup-python.sh and scripts/fetch-data.sh:

    .venv/bin/python python/train_samples.py              # all models
    .venv/bin/python python/train_samples.py sentiment    # only models/sentiment/v1, v2

Each model is written as model.joblib (joblib.dump, zlib level 3) plus model.yaml
(the manifest the server reads; keys fixed by the repository format). Training is
deterministic (fixed seeds, hash split), so a rerun changes only training_date.

The `reference` block is computed on the held-out split:
  confidence  histogram of the max predicted probability, 10 bins over [0, 1]
  text_length histogram of len(text) in characters (Python code points), fixed edges
  oov_rate    per text, the share of its word unigrams (the vectorizer's own analyzer
              with ngram_range=(1, 1)) that are not in vocabulary_; a text with no
              tokens counts as 0.0
The `golden` block is the parity certificate (python/mlserve_certify.py): the fitted pipeline's
own label and probabilities on the warm-up texts, the parity suite's hard texts and a few held-out
texts; mlserve refuses to load the file when its outputs differ. To rewrite only that block for
the models on disk: `.venv/bin/python python/mlserve_certify.py models/<name>/<version>`.
The sentiment models' C is chosen from SENTIMENT_C by 5-fold cross-validation on the
training split only (fixed folds), so the held-out accuracy stays an honest estimate.

No preprocessing steps are declared (empty lists): the models were trained on the
raw text, so the server must not clean it before the model.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
from pathlib import Path

import joblib
import numpy as np
import scipy
import sklearn
import yaml
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlserve_certify import certify, sample_texts, write_golden  # noqa: E402
from mlserve_data import sentiment, spam  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
UNIT_EDGES = [round(i / 10, 1) for i in range(11)]
SENTIMENT_C = [1.0, 3.0, 10.0, 30.0]  # C grid searched per sentiment model (training split only)
LENGTH_EDGES = [0, 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000, 1000000]


class _NoAliases(yaml.SafeDumper):
    """Writes shared lists in full (no &id001 anchors) so any YAML reader sees plain values."""

    def ignore_aliases(self, data):
        return True


def hist(values, edges):
    v = np.clip(np.asarray(values, dtype=float), edges[0], edges[-1])
    counts, _ = np.histogram(v, bins=edges)
    return [round(float(c) / len(v), 6) for c in counts]


def word_vectorizer(model):
    """The first word-analyzer vectorizer inside a pipeline (for the OOV rate)."""
    steps = [model]
    while steps:
        s = steps.pop(0)
        if isinstance(s, TfidfVectorizer) and s.analyzer == "word":
            return s
        if isinstance(s, Pipeline):
            steps.extend(st for _, st in s.steps)
        if isinstance(s, FeatureUnion):
            steps.extend(st for _, st in s.transformer_list)
    raise ValueError("no word vectorizer")


def oov_rates(model, texts):
    vec = word_vectorizer(model)
    analyze = clone(vec).set_params(ngram_range=(1, 1)).build_analyzer()
    vocab = vec.vocabulary_
    out = []
    for t in texts:
        toks = analyze(t)
        out.append(sum(tok not in vocab for tok in toks) / len(toks) if toks else 0.0)
    return out


def reference(model, texts, labels):
    proba = model.predict_proba(texts)
    pred = model.classes_[proba.argmax(axis=1)]
    lengths = [len(t) for t in texts]
    return {
        "n": len(texts),
        "label_distribution": {str(c): round(float(np.mean(pred == c)), 6) for c in model.classes_},
        "confidence": {"edges": UNIT_EDGES, "fractions": hist(proba.max(axis=1), UNIT_EDGES)},
        "text_length": {"edges": LENGTH_EDGES, "fractions": hist(lengths, LENGTH_EDGES),
                        "mean": round(float(np.mean(lengths)), 3), "std": round(float(np.std(lengths)), 3)},
        "oov_rate": {"edges": UNIT_EDGES, "fractions": hist(oov_rates(model, texts), UNIT_EDGES)},
    }


def tune_c(model, texts, labels, grid):
    """Pick the classifier's C by 5-fold cross-validation on the training split only
    (the held-out split never influences it) and return the model with that C set.
    The saved artifact stays the plain Pipeline, not the search object."""
    search = GridSearchCV(clone(model), {"clf__C": grid}, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                          n_jobs=1)
    search.fit(texts, labels)
    scores = ", ".join(f"C={p['clf__C']:g}: {s:.4f}" for p, s in
                       zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]))
    print(f"  cv on training split: {scores} -> C={search.best_params_['clf__C']:g}")
    return model.set_params(**search.best_params_)


def save(name, version, model, data, description, features, warmup, c_grid=None):
    xt, yt, xh, yh = data
    if c_grid:
        model = tune_c(model, xt, yt, c_grid)
    model.fit(xt, yt)
    acc = accuracy_score(yh, model.predict(xh))
    out = MODELS / name / version
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib", compress=("zlib", 3))
    manifest = {
        "framework": "sklearn",
        "artifact": "model.joblib",
        "description": description,
        "accuracy": round(float(acc), 4),
        "training_date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "features": features,
        "labels": [str(c) for c in model.classes_],
        "library_versions": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                             "numpy": np.__version__, "scipy": scipy.__version__, "joblib": joblib.__version__},
        "preprocessing": [],
        "warmup": warmup,
        "reference": reference(model, xh, yh),
    }
    with (out / "model.yaml").open("w") as fh:
        fh.write(f"# Written by python/train_samples.py; held-out split of {len(xh)} texts.\n")
        yaml.dump(manifest, fh, Dumper=_NoAliases, sort_keys=False, default_flow_style=None, width=120,
                  allow_unicode=True)
    # The parity certificate: scikit-learn's own outputs on the sample texts, checked by mlserve at load.
    write_golden(out / "model.yaml", certify(model, sample_texts(name, warmup)))
    size = (out / "model.joblib").stat().st_size
    print(f"{name}/{version}: accuracy {acc:.4f} on {len(xh)} held-out, {size / 1e6:.2f} MB")


def train_sentiment():
    sent = sentiment.load_split()
    sent_warm = ["The delivery was quick and the product works great.",
                 "It broke after two days and support never replied.",
                 "The store opens at nine on Saturdays."]
    save("sentiment", "v1",
         Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2))),
                   ("clf", LogisticRegression(C=10.0, max_iter=2000))]),
         sent, "Review sentiment (positive/negative/neutral), TF-IDF + logistic regression",
         "TF-IDF word unigrams+bigrams, full vocabulary", sent_warm, c_grid=SENTIMENT_C)
    save("sentiment", "v2",
         Pipeline([("features", FeatureUnion([
                       ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                       ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                                max_features=20000))])),
                   ("clf", LogisticRegression(C=20.0, max_iter=3000))]),
         sent, "Review sentiment (positive/negative/neutral), word + character n-gram TF-IDF + logistic regression",
         "TF-IDF word unigrams+bigrams and char_wb 2-5-grams (20,000 terms), sublinear tf", sent_warm,
         c_grid=SENTIMENT_C)


def train_spam():
    sp = spam.load_split()
    save("spam", "v1",
         Pipeline([("tfidf", TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), max_features=30000,
                                             dtype=np.float64)),
                   ("clf", LogisticRegression(C=30.0, max_iter=3000))]),
         sp, "SpamAssassin spam filter on raw emails (headers + body), TF-IDF + logistic regression",
         "TF-IDF word unigrams+bigrams, 30,000 terms, sublinear tf",
         ["Subject: meeting moved to 3pm\n\nSee you in room 4.",
          "Subject: You WON $1,000,000!!!\n\nClick here to claim your FREE prize now."])


TRAINERS = {"sentiment": train_sentiment, "spam": train_spam}


def main(argv):
    """Train the named sample models (default: all), e.g. `train_samples.py sentiment`."""
    names = argv or list(TRAINERS)
    unknown = [n for n in names if n not in TRAINERS]
    if unknown:
        sys.exit(f"unknown model {unknown}; choose from {list(TRAINERS)}")
    for n in names:
        TRAINERS[n]()


if __name__ == "__main__":
    main(sys.argv[1:])

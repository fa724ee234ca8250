"""Explanations: mlserve's exact contributions against scikit-learn's own arithmetic.

For each linear or naive Bayes pipeline below (trained here with the pinned scikit-learn, saved
with joblib, explained by cmd/sklearn-predict -explain K), every text's explanation is recomputed
from the fitted attributes: the transformed row times coef_ (the predicted class's row; a binary
model's single row) or feature_log_prob_ (BernoulliNB: of the binarized row, against log(1-p)),
the mean over CalibratedClassifierCV's base estimators. The top K (largest magnitude first, ties in
column order) must name the same features with the same values within 1e-9; the explained value
must be scikit-learn's decision_function / predict_joint_log_proba; spans must cover text whose own
analysis yields the feature.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import warnings

import joblib
import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.feature_selection import SelectKBest, chi2
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn.utils import murmurhash3_32

TOL = 1e-9
TOP_K = 10

CASES = {
    "spam_tfidf12_lr": ("spam", lambda: make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=20000), LogisticRegression(max_iter=1000))),
    "spam_tfidf_cnb": ("spam", lambda: make_pipeline(TfidfVectorizer(min_df=2), ComplementNB())),
    "spam_hashing_sgd": ("spam", lambda: make_pipeline(
        HashingVectorizer(n_features=2 ** 12, ngram_range=(1, 2)), SGDClassifier(random_state=0))),
    "sentiment_tfidf_linearsvc": ("sentiment", lambda: make_pipeline(
        TfidfVectorizer(strip_accents="unicode", ngram_range=(1, 2)), LinearSVC())),
    "sentiment_count_mnb": ("sentiment", lambda: make_pipeline(CountVectorizer(), MultinomialNB())),
    "sentiment_binary_bnb": ("sentiment", lambda: make_pipeline(CountVectorizer(binary=True), BernoulliNB())),
    "sentiment_kbest_ridge": ("sentiment", lambda: make_pipeline(
        TfidfVectorizer(), SelectKBest(chi2, k=300), RidgeClassifier())),
    "sentiment_charwb_lr": ("sentiment", lambda: make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True), LogisticRegression(max_iter=1000))),
    "sentiment_calibrated_svc": ("sentiment", lambda: make_pipeline(
        TfidfVectorizer(), CalibratedClassifierCV(LinearSVC(), cv=3))),
}


@pytest.fixture(scope="session")
def explain_texts(spam_split, sentiment_split, hard_texts):
    held = sorted(spam_split[2], key=lambda t: hashlib.sha256(t.encode()).hexdigest())[:60]
    return held + list(sentiment_split[2])[:120] + [t for t in hard_texts if t.strip()]


def _train(name, spam_split, sentiment_split):
    data, make = CASES[name]
    if data == "spam":
        order = sorted(range(len(spam_split[0])), key=lambda i: hashlib.sha256(spam_split[0][i].encode()).hexdigest())[:1500]
        x, y = [spam_split[0][i] for i in order], [spam_split[1][i] for i in order]
    else:
        x, y = sentiment_split[0], sentiment_split[1]
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y)
    return model


def _column_names(model, text):
    """Final column -> list of feature names (hashing: the text's n-grams hashed there)."""
    vec = model.steps[0][1]
    if isinstance(vec, HashingVectorizer):
        names = {}
        for term in vec.build_analyzer()(text):
            h = murmurhash3_32(term, seed=0, positive=False)
            col = abs(h) % vec.n_features if h != -2 ** 31 else (2 ** 31 - (vec.n_features - 1)) % vec.n_features
            names.setdefault(col, [])
            if term not in names[col]:
                names[col].append(term)
        return lambda j: names.get(j, [])
    base = vec.get_feature_names_out()
    cols = np.arange(len(base))
    for _, step in model.steps[1:-1]:
        cols = cols[step.get_support()]
    return lambda j: [str(base[cols[j]])]


def _linear(clf, x, idx):
    coef = clf.coef_
    row = 0 if coef.shape[0] == 1 else idx
    return x.data * np.asarray(coef)[row, x.indices], float(np.ravel(clf.intercept_)[row]), row


def _python_explanation(model, text):
    """(contributions per stored value, column per stored value, base, value, sklearn's own value)."""
    x = model[:-1].transform([text]).tocsr()
    x.sort_indices()
    clf = model[-1]
    idx = int(np.flatnonzero(clf.classes_ == clf.predict(x)[0])[0])
    if isinstance(clf, CalibratedClassifierCV):
        parts = [_linear(c.estimator, x, idx) for c in clf.calibrated_classifiers_]
        contrib = np.mean([p[0] for p in parts], axis=0)
        base = float(np.mean([p[1] for p in parts]))
        row = parts[0][2]
        own = float(np.mean([np.ravel(c.estimator.decision_function(x))[row] for c in clf.calibrated_classifiers_]))
    elif isinstance(clf, BernoulliNB):
        flp = clf.feature_log_prob_[idx]
        neg = np.log(1 - np.exp(clf.feature_log_prob_[idx]))
        xb = (x.data > clf.binarize).astype(float)
        contrib = xb * (flp - neg)[x.indices]
        base = float(clf.class_log_prior_[idx] + neg.sum())
        own = float(clf.predict_joint_log_proba(x)[0, idx])
    elif isinstance(clf, (MultinomialNB, ComplementNB)):
        contrib = x.data * clf.feature_log_prob_[idx, x.indices]
        base = float(clf.class_log_prior_[idx]) if isinstance(clf, MultinomialNB) or len(clf.classes_) == 1 else 0.0
        own = float(clf.predict_joint_log_proba(x)[0, idx])
    else:
        contrib, base, row = _linear(clf, x, idx)
        own = float(np.ravel(clf.decision_function(x))[row])
    return contrib, x.indices, base, base + float(contrib.sum()), own


def _covers(model, text, span, feature):
    """The original text under span, analyzed as the model would, yields feature."""
    vec = model.steps[0][1]
    sub = text[span["start"]:span["end"]]
    if vec.analyzer == "word":
        return feature in vec.build_analyzer()(sub)
    # A code point that preprocessing expands ('İ'.lower() is 'i' and a combining dot) is covered
    # whole, so the span's text may hold a little more than the n-gram.
    pre = re.sub(r"\s+", " ", vec.build_preprocessor()(sub)).strip()
    return pre == feature.strip() or (feature.strip() in pre and len(pre) <= len(feature.strip()) + 2)


@pytest.mark.parametrize("name", list(CASES))
def test_explanations_match_sklearn(name, tmp_path, explain_texts, sklearn_predict, spam_split, sentiment_split):
    model = _train(name, spam_split, sentiment_split)
    path = tmp_path / f"{name}.joblib"
    joblib.dump(model, path)
    texts_path = tmp_path / "texts.json"
    texts_path.write_text(json.dumps(explain_texts))
    proc = subprocess.run([sklearn_predict, "-model", str(path), "-texts", str(texts_path), "-explain", str(TOP_K)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    exps = out["explanations"]
    assert len(exps) == len(explain_texts)
    spans_checked = 0
    for i, (text, ex) in enumerate(zip(explain_texts, exps)):
        assert ex is not None and ex["method"] == "exact", f"text {i}: {ex}"
        contrib, cols, base, value, own = _python_explanation(model, text)
        where = f"{name} text {i} {text[:60]!r}"
        assert abs(ex["value"] - own) <= TOL * max(1, abs(own)), f"{where}: value {ex['value']}, sklearn {own}"
        assert abs(ex["base"] - base) <= TOL * max(1, abs(base)), f"{where}: base {ex['base']}, sklearn {base}"
        assert abs(value - own) <= TOL * max(1, abs(own)), f"{where}: the Python recomputation itself is off"
        assert ex["features"] == len(contrib)
        order = sorted(range(len(contrib)), key=lambda k: (-abs(contrib[k]), cols[k]))[:TOP_K]
        names = _column_names(model, text)
        got = ex["contributions"]
        assert len(got) == len(order), f"{where}: {len(got)} contributions, want {len(order)}"
        rest = float(sum(contrib[k] for k in range(len(contrib)) if k not in set(order)))
        assert abs(ex["rest"] - rest) <= TOL * max(1, abs(rest)), f"{where}: rest {ex['rest']}, sklearn {rest}"
        for g, k in zip(got, order):
            want_names = names(int(cols[k]))
            assert abs(g["value"] - contrib[k]) <= TOL * max(1, abs(contrib[k])), \
                f"{where}: {g['feature']!r} {g['value']}, sklearn {want_names} {contrib[k]}"
            if g.get("hashed"):
                assert sorted(g["hashed"]) == sorted(want_names), f"{where}: hashed {g['hashed']}, sklearn {want_names}"
            else:
                assert [g["feature"]] == want_names, f"{where}: feature {g['feature']!r}, sklearn {want_names}"
            for sp in g["spans"]:
                feats = g.get("hashed") or [g["feature"]]
                assert any(_covers(model, text, sp, f) for f in feats), \
                    f"{where}: span {sp} of {feats} covers {text[sp['start']:sp['end']]!r}"
                spans_checked += 1
    assert spans_checked > 0

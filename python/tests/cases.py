"""The matrix of real scikit-learn pipelines the parity suite trains, and the ways it saves them."""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass
from typing import Callable

import joblib
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import (CountVectorizer, HashingVectorizer, TfidfTransformer,
                                             TfidfVectorizer)
from sklearn.linear_model import (LogisticRegression, Perceptron, RidgeClassifier, SGDClassifier)
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import LinearSVC

try:  # deprecated in 1.8, removed in 1.10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sklearn.linear_model import PassiveAggressiveClassifier
except ImportError:  # pragma: no cover
    PassiveAggressiveClassifier = None

N_SPAM_TRAIN = 1500  # training subset of the spam split (keeps the suite fast; parity does not need more)


def _save_joblib(**kw):
    return lambda m, p: joblib.dump(m, p, **kw)


def _save_pickle(protocol):
    def save(m, p):
        with open(p, "wb") as fh:
            pickle.dump(m, fh, protocol=protocol)
    return save


# name -> (file suffix, saver)
WAYS: dict[str, tuple[str, Callable]] = {
    "joblib": (".joblib", _save_joblib()),
    "joblib-compress-true": (".joblib", _save_joblib(compress=True)),
    "zlib": (".joblib", _save_joblib(compress=("zlib", 6))),
    "gzip": (".joblib", _save_joblib(compress=("gzip", 3))),
    "bz2": (".joblib", _save_joblib(compress=("bz2", 3))),
    "xz": (".joblib", _save_joblib(compress=("xz", 3))),
    "lzma": (".joblib", _save_joblib(compress=("lzma", 3))),
    "lz4": (".joblib", _save_joblib(compress=("lz4", 3))),
    "pickle2": (".pkl", _save_pickle(2)),
    "pickle4": (".pkl", _save_pickle(4)),
    "pickle5": (".pkl", _save_pickle(5)),
}


@dataclass
class Case:
    """One pipeline: a factory, its data set ("spam" or "sentiment") and its label dtype."""
    name: str
    make: Callable[[], object]
    data: str
    labels: str = "str"  # str | int | object
    n_train: int = 0  # spam only: training emails (0: N_SPAM_TRAIN); char analyzers use fewer, they are slow in Python
    known_gap: str = ""  # a reason: the case is expected to fail (strict xfail) until the gap is closed


def _tfidf(**kw):
    kw.setdefault("max_features", 4000)
    return TfidfVectorizer(**kw)


def _count(**kw):
    kw.setdefault("max_features", 4000)
    return CountVectorizer(**kw)


def _lr(**kw):
    kw.setdefault("max_iter", 2000)
    return LogisticRegression(**kw)


def _sgd(loss, **kw):
    return SGDClassifier(loss=loss, random_state=0, max_iter=50, tol=None, **kw)


def _pa():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PassiveAggressiveClassifier(random_state=0, max_iter=50)


CASES = [
    # --- spam, 2 classes
    Case("spam_tfidf_word_lr", lambda: make_pipeline(_tfidf(), _lr(C=10)), "spam"),
    Case("spam_tfidf_bigram_sublinear_lr", lambda: make_pipeline(
        _tfidf(ngram_range=(1, 2), sublinear_tf=True), _lr(C=10)), "spam"),
    Case("spam_tfidf_char_l1_sgd_log", lambda: make_pipeline(
        _tfidf(analyzer="char", ngram_range=(2, 4), norm="l1", max_features=3000), _sgd("log_loss")), "spam", n_train=400),
    Case("spam_tfidf_charwb_sgd_mhuber", lambda: make_pipeline(
        _tfidf(analyzer="char_wb", ngram_range=(1, 3), max_features=3000), _sgd("modified_huber")), "spam", n_train=400),
    Case("spam_count_binary_bernoullinb", lambda: make_pipeline(
        _count(binary=True), BernoulliNB()), "spam"),
    Case("spam_count_stop_mnb", lambda: make_pipeline(_count(stop_words="english"), MultinomialNB()), "spam"),
    Case("spam_count_ascii_cnb", lambda: make_pipeline(_count(strip_accents="ascii"), ComplementNB()), "spam"),
    Case("spam_tfidf_unicode_noidf_linsvc", lambda: make_pipeline(
        _tfidf(strip_accents="unicode", use_idf=False), LinearSVC(C=0.5)), "spam"),
    Case("spam_tfidf_nosmooth_nonorm_ridge", lambda: make_pipeline(
        _tfidf(smooth_idf=False, norm=None, max_features=2000), RidgeClassifier(alpha=10.0)), "spam"),
    Case("spam_hashing_tfidf_perceptron", lambda: make_pipeline(
        HashingVectorizer(n_features=2 ** 12, alternate_sign=False), TfidfTransformer(), Perceptron(random_state=0)),
        "spam"),
    Case("spam_hashing_signed_pa", lambda: make_pipeline(
        HashingVectorizer(n_features=2 ** 14, ngram_range=(1, 2)), _pa()), "spam"),
    Case("spam_svd_normalizer_lr", lambda: make_pipeline(
        _tfidf(max_features=3000), TruncatedSVD(40, random_state=0), Normalizer(), _lr()), "spam"),
    Case("spam_svd_scaler_sgd_hinge", lambda: make_pipeline(
        _tfidf(max_features=3000), TruncatedSVD(40, random_state=0), StandardScaler(), _sgd("hinge")), "spam"),
    Case("spam_union_word_charwb_lr", lambda: make_pipeline(FeatureUnion([
        ("word", _tfidf(max_features=3000)),
        ("char", _tfidf(analyzer="char_wb", ngram_range=(2, 3), max_features=2000))]), _lr(C=5)), "spam", n_train=400),
    Case("spam_calibrated_sigmoid_linsvc", lambda: make_pipeline(
        _tfidf(), CalibratedClassifierCV(LinearSVC(), method="sigmoid", cv=3)), "spam"),
    Case("spam_calibrated_isotonic_lr", lambda: make_pipeline(
        _tfidf(), CalibratedClassifierCV(_lr(), method="isotonic", cv=3)), "spam"),
    Case("spam_gridsearch_lr", lambda: GridSearchCV(
        Pipeline([("tfidf", _tfidf(max_features=2000)), ("clf", _lr())]),
        {"clf__C": [1.0, 10.0]}, cv=3), "spam"),
    Case("spam_liblinear_lr_int", lambda: make_pipeline(_tfidf(), _lr(solver="liblinear")), "spam", "int"),
    Case("spam_lr_object", lambda: make_pipeline(_tfidf(ngram_range=(1, 3)), _lr()), "spam", "object"),
    # --- sentiment, 3 classes
    Case("sent_tfidf_multinomial_lr", lambda: make_pipeline(_tfidf(ngram_range=(1, 2)), _lr(C=10)), "sentiment"),
    Case("sent_tfidf_multinomial_lr_int", lambda: make_pipeline(_tfidf(), _lr()), "sentiment", "int"),
    Case("sent_sgd_log_object", lambda: make_pipeline(_tfidf(), _sgd("log_loss")), "sentiment", "object"),
    Case("sent_sgd_mhuber", lambda: make_pipeline(_tfidf(sublinear_tf=True), _sgd("modified_huber")), "sentiment"),
    Case("sent_sgd_hinge_int", lambda: make_pipeline(_count(), _sgd("hinge")), "sentiment", "int"),
    Case("sent_linsvc", lambda: make_pipeline(_tfidf(analyzer="char_wb", ngram_range=(2, 4)), LinearSVC()),
         "sentiment"),
    Case("sent_ridge", lambda: make_pipeline(_tfidf(norm="l1"), RidgeClassifier()), "sentiment"),
    Case("sent_perceptron", lambda: make_pipeline(_tfidf(stop_words="english"), Perceptron(random_state=0)),
         "sentiment"),
    Case("sent_pa_object", lambda: make_pipeline(_tfidf(), _pa()), "sentiment", "object"),
    Case("sent_mnb", lambda: make_pipeline(_count(ngram_range=(1, 2)), MultinomialNB(alpha=0.5)), "sentiment"),
    Case("sent_cnb", lambda: make_pipeline(_tfidf(), ComplementNB()), "sentiment"),
    Case("sent_bnb_int", lambda: make_pipeline(_count(binary=True), BernoulliNB()), "sentiment", "int"),
    Case("sent_calibrated_isotonic_svc", lambda: make_pipeline(
        _tfidf(), CalibratedClassifierCV(LinearSVC(), method="isotonic", cv=3)), "sentiment"),
    Case("sent_calibrated_sigmoid_mnb", lambda: make_pipeline(
        _count(), CalibratedClassifierCV(MultinomialNB(), method="sigmoid", cv=3)), "sentiment"),
    Case("sent_gridsearch_sgd", lambda: GridSearchCV(
        Pipeline([("vec", _tfidf()), ("clf", _sgd("log_loss"))]), {"clf__alpha": [1e-4, 1e-3]}, cv=3),
        "sentiment"),
    Case("sent_hashing_union_lr", lambda: make_pipeline(FeatureUnion([
        ("h", HashingVectorizer(n_features=2 ** 10, norm="l1")),
        ("t", _tfidf(analyzer="char", ngram_range=(1, 2)))]), _lr()), "sentiment"),
]

if PassiveAggressiveClassifier is None:  # pragma: no cover
    CASES = [c for c in CASES if "_pa" not in c.name]

from cases_skinert import _cases as _skinert_cases  # noqa: E402  (sk-inert, issue 16)
CASES += _skinert_cases(Case)

WAY_NAMES = list(WAYS)


def ways_for(i: int) -> list[str]:
    """Two save ways per case, rotating so that every way is used by several cases."""
    return [WAY_NAMES[i % len(WAY_NAMES)], WAY_NAMES[(i + 4) % len(WAY_NAMES)]]


INT_CODES = {"ham": 0, "spam": 1, "negative": -1, "neutral": 0, "positive": 1}


def labels_as(labels: list[str], kind: str):
    """The training labels in the requested dtype: str (<U), int (int64) or object (str objects)."""
    if kind == "str":
        return np.asarray(labels)
    if kind == "int":
        return np.asarray([INT_CODES[x] for x in labels], dtype=np.int64)
    if kind == "object":
        return np.asarray(labels, dtype=object)
    raise ValueError(kind)

CASES += __import__("cases_skmodels").CASES  # issue 16, sk-models: meta-estimators, trees, kernels
CASES += __import__("cases_skrelease").CASES  # issue 16, sk-release: SelectFromModel, LDA, p-value selection

"""sk-inert's parity cases (issue 16): saved searches with their inert parts, token patterns only
Python's re semantics match, float32 vectorizers, calibration around whole pipelines and by
temperature, feature selection and scaling. Appended to cases.CASES."""

from __future__ import annotations

import numpy as np
from joblib import Memory
from scipy.stats import loguniform, randint
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.feature_selection import SelectKBest, SelectPercentile, VarianceThreshold, chi2, f_classif
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.metrics import fbeta_score, make_scorer, matthews_corrcoef
from sklearn.model_selection import (GridSearchCV, KFold, RandomizedSearchCV, RepeatedStratifiedKFold,
                                     StratifiedShuffleSplit)
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler
from sklearn.svm import LinearSVC


def _cases(Case):
    def tfidf(**kw):
        kw.setdefault("max_features", 3000)
        return TfidfVectorizer(**kw)

    def lr(**kw):
        kw.setdefault("max_iter", 2000)
        return LogisticRegression(**kw)

    return [
        Case("ski_spam_randomized_search", lambda: RandomizedSearchCV(
            Pipeline([("vec", tfidf()), ("clf", lr())], memory=Memory(location=None, verbose=0)),
            {"clf__C": loguniform(1e-1, 1e2), "vec__min_df": randint(1, 3)}, n_iter=2,
            cv=StratifiedShuffleSplit(n_splits=2, test_size=0.3, random_state=0),
            scoring=make_scorer(matthews_corrcoef), random_state=0), "spam"),
        Case("ski_sent_grid_candidates", lambda: GridSearchCV(
            Pipeline([("vec", tfidf()), ("clf", lr())]),
            [{"clf": [lr(C=10)]}, {"clf": [RandomForestClassifier(n_estimators=1, max_depth=1, random_state=0)]}],
            cv=RepeatedStratifiedKFold(n_splits=2, n_repeats=1, random_state=0),
            scoring={"f2": make_scorer(fbeta_score, beta=2, average="macro"), "acc": "accuracy"}, refit="f2"),
            "sentiment"),
        Case("ski_sent_search_as_step", lambda: make_pipeline(tfidf(), GridSearchCV(
            lr(), {"C": [1.0, 10.0]}, cv=KFold(3, shuffle=True, random_state=0), scoring="f1_macro")), "sentiment"),
        Case("ski_spam_token_pattern_python_re", lambda: make_pipeline(
            tfidf(token_pattern=r"(?i)\b([a-z][a-z']+)\b(?![-'])", lowercase=False), lr(C=10)), "spam"),
        Case("ski_sent_token_pattern_lookbehind", lambda: make_pipeline(
            CountVectorizer(token_pattern=r"(?<![@#])\b\w\w+\b|[!?]", max_features=3000), MultinomialNB()),
            "sentiment"),
        Case("ski_sent_float32_linear_svc", lambda: make_pipeline(
            tfidf(dtype=np.float32, sublinear_tf=True), LinearSVC()), "sentiment"),
        Case("ski_spam_float32_sublinear_lr", lambda: make_pipeline(
            tfidf(dtype=np.float32, sublinear_tf=True), lr(C=10)), "spam"),
        Case("ski_sent_float32_lr_multinomial", lambda: make_pipeline(tfidf(dtype=np.float32), lr(C=10)), "sentiment"),
        Case("ski_sent_float32_sgd_log", lambda: make_pipeline(tfidf(dtype=np.float32), SGDClassifier(
            loss="log_loss", random_state=0, max_iter=30, tol=None)), "sentiment"),
        Case("ski_spam_float32_sgd_modified_huber", lambda: make_pipeline(tfidf(dtype=np.float32), SGDClassifier(
            loss="modified_huber", random_state=0, max_iter=30, tol=None)), "spam"),
        Case("ski_spam_float32_ridge", lambda: make_pipeline(tfidf(dtype=np.float32), RidgeClassifier()), "spam"),
        Case("ski_spam_calibrated_pipeline_cv3", lambda: CalibratedClassifierCV(
            make_pipeline(tfidf(), LinearSVC()), method="sigmoid", cv=3), "spam"),
        Case("ski_sent_calibrated_pipeline_no_ensemble", lambda: CalibratedClassifierCV(
            make_pipeline(tfidf(), lr()), method="isotonic", cv=3, ensemble=False), "sentiment"),
        Case("ski_sent_calibrated_temperature", lambda: make_pipeline(
            tfidf(), CalibratedClassifierCV(LinearSVC(), method="temperature", cv=3)), "sentiment"),
        Case("ski_spam_kbest_chi2_lr", lambda: make_pipeline(tfidf(), SelectKBest(chi2, k=500), lr(C=10)), "spam"),
        Case("ski_sent_percentile_mnb", lambda: make_pipeline(
            CountVectorizer(max_features=3000), SelectPercentile(f_classif, percentile=20), MultinomialNB()),
            "sentiment"),
        Case("ski_sent_variance_maxabs_sgd", lambda: make_pipeline(
            CountVectorizer(max_features=3000), VarianceThreshold(0.001), MaxAbsScaler(),
            SGDClassifier(loss="log_loss", random_state=0, max_iter=50, tol=None)), "sentiment"),
        Case("ski_spam_svd_minmax_lr", lambda: make_pipeline(
            tfidf(), TruncatedSVD(30, random_state=0), MinMaxScaler(clip=True), lr()), "spam"),
    ]

"""The real-world zoo (issue 16): text pipelines written the way tutorials, Kaggle notebooks and
production code write them, for test_zoo.py.

Unlike cases.py, whose pipelines each isolate one feature of the reader, these are whole
notebooks' worth of habits at once: a GridSearchCV or RandomizedSearchCV saved as it is (with
its StratifiedKFold, its scorer, its scipy.stats distributions, its losing candidates),
``Pipeline([('vect', ...), ('tfidf', ...), ('clf', ...)])`` from scikit-learn's own tutorial,
stop words and n-grams, class_weight='balanced', a CalibratedClassifierCV bolted on for
probabilities, a VotingClassifier of the three models that were compared, forests on TF-IDF.
None holds custom Python code: what a user's own function would need is in CUSTOM, which must
be refused by name.

Each entry is small enough to train in well under a second on the zoo's few hundred texts (a
search tries a handful of candidates on two or three folds), so the whole zoo trains in about a
minute.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from joblib import Memory
from scipy.stats import expon, loguniform, randint, uniform
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.ensemble import (AdaBoostClassifier, ExtraTreesClassifier, GradientBoostingClassifier,
                              HistGradientBoostingClassifier, RandomForestClassifier, StackingClassifier,
                              VotingClassifier)
from sklearn.feature_extraction.text import (CountVectorizer, HashingVectorizer, TfidfTransformer,
                                             TfidfVectorizer)
from sklearn.feature_selection import (GenericUnivariateSelect, SelectFromModel, SelectKBest, SelectPercentile, VarianceThreshold,
                                       chi2, f_classif, mutual_info_classif)
from sklearn.linear_model import (LogisticRegression, LogisticRegressionCV, Perceptron, RidgeClassifier,
                                  RidgeClassifierCV, SGDClassifier)
from sklearn.metrics import (accuracy_score, f1_score, fbeta_score, make_scorer, matthews_corrcoef,
                             precision_score, recall_score)
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (GridSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV, KFold, RandomizedSearchCV, RepeatedStratifiedKFold,
                                     ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit)
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline, make_union
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler, MinMaxScaler, Normalizer, StandardScaler
from sklearn.svm import SVC, LinearSVC, NuSVC
from sklearn.tree import DecisionTreeClassifier

try:  # deprecated in 1.8, removed in 1.10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sklearn.linear_model import PassiveAggressiveClassifier
except ImportError:  # pragma: no cover
    PassiveAggressiveClassifier = None


@dataclass
class Pipe:
    """One zoo pipeline: a factory, its task ("spam" or "sentiment") and its label dtype."""
    name: str
    task: str
    make: Callable[[], object]
    labels: str = "str"  # str | int | object (as cases.labels_as)


# Folds and scorers as notebooks write them; small, so that the zoo stays fast.
def _skf():
    return StratifiedKFold(n_splits=3, shuffle=True, random_state=42)


def _search(est, grid, **kw):
    kw.setdefault("cv", 3)
    return GridSearchCV(est, grid, **kw)


def _rsearch(est, dists, **kw):
    kw.setdefault("cv", 3)
    kw.setdefault("n_iter", 3)
    kw.setdefault("random_state", 42)
    return RandomizedSearchCV(est, dists, **kw)


def _pa(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PassiveAggressiveClassifier(**kw)


def _both(name, make, labels="str"):
    """The same notebook cell run on both tasks."""
    return [Pipe(f"spam_{name}", "spam", make, labels), Pipe(f"sent_{name}", "sentiment", make, labels)]


def _zoo() -> list[Pipe]:
    z: list[Pipe] = []
    add = z.extend

    # --- scikit-learn's "Working with text data" tutorial, cell by cell
    add(_both("tutorial_count_tfidf_mnb", lambda: Pipeline([
        ("vect", CountVectorizer()), ("tfidf", TfidfTransformer()), ("clf", MultinomialNB())])))
    add(_both("tutorial_count_tfidf_sgd", lambda: Pipeline([
        ("vect", CountVectorizer()), ("tfidf", TfidfTransformer()),
        ("clf", SGDClassifier(loss="hinge", penalty="l2", alpha=1e-3, random_state=42, max_iter=5, tol=None))])))
    add(_both("tutorial_gridsearch_sgd", lambda: GridSearchCV(Pipeline([
        ("vect", CountVectorizer()), ("tfidf", TfidfTransformer()),
        ("clf", SGDClassifier(loss="hinge", penalty="l2", alpha=1e-3, random_state=42, max_iter=5, tol=None))]),
        {"vect__ngram_range": [(1, 1), (1, 2)], "tfidf__use_idf": (True, False), "clf__alpha": (1e-2, 1e-3)},  # 8 candidates
        cv=2, n_jobs=None)))
    # the grid_search_text_feature_extraction example: a RandomizedSearchCV over the vectorizer
    add(_both("example_randomized_vectorizer_cnb", lambda: RandomizedSearchCV(
        Pipeline([("vect", TfidfVectorizer()), ("clf", ComplementNB())]),
        {"vect__max_df": (0.2, 0.4, 0.6, 0.8, 1.0), "vect__min_df": (1, 3, 5, 10),
         "vect__ngram_range": ((1, 1), (1, 2)), "vect__norm": ("l1", "l2"), "clf__alpha": np.logspace(-6, 6, 13)},
        n_iter=4, random_state=0, cv=2, verbose=0)))

    # --- the first notebook everyone writes
    add(_both("tfidf_mnb", lambda: make_pipeline(TfidfVectorizer(), MultinomialNB())))
    add(_both("count_mnb_alpha", lambda: make_pipeline(CountVectorizer(stop_words="english"), MultinomialNB(alpha=0.1))))
    add(_both("count_lr", lambda: make_pipeline(CountVectorizer(), LogisticRegression(max_iter=1000))))
    # liblinear is binary only since 1.8 (multiclass needs OneVsRest around it)
    z.append(Pipe("spam_tfidf_lr_liblinear", "spam", lambda: Pipeline([
        ("tfidf", TfidfVectorizer(stop_words="english", max_df=0.7)),
        ("lr", LogisticRegression(solver="liblinear", random_state=42))])))
    z.append(Pipe("sent_ovr_lr_liblinear", "sentiment", lambda: Pipeline([
        ("tfidf", TfidfVectorizer(stop_words="english", max_df=0.7)),
        ("lr", OneVsRestClassifier(LogisticRegression(solver="liblinear", random_state=42)))])))
    add(_both("tfidf_linearsvc", lambda: Pipeline([("tfidf", TfidfVectorizer()), ("svm", LinearSVC())])))
    add(_both("towardsds_sublinear_bigram_linearsvc", lambda: make_pipeline(TfidfVectorizer(
        sublinear_tf=True, min_df=2, norm="l2", encoding="latin-1", ngram_range=(1, 2), stop_words="english"),
        LinearSVC(C=1.0, class_weight="balanced"))))
    if PassiveAggressiveClassifier is not None:
        add(_both("fake_news_tfidf_pa", lambda: make_pipeline(
            TfidfVectorizer(stop_words="english", max_df=0.7), _pa(max_iter=50, random_state=0))))
    add(_both("kaggle_word_token_pattern_lr", lambda: make_pipeline(TfidfVectorizer(
        analyzer="word", token_pattern=r"\w{1,}", max_features=5000, ngram_range=(1, 2)),
        LogisticRegression(C=4, max_iter=1000))))
    add(_both("tfidf_balanced_lr_saga_l1", lambda: make_pipeline(TfidfVectorizer(min_df=2),
        LogisticRegression(penalty="l1", solver="saga", C=10, class_weight="balanced", max_iter=3000))))
    add(_both("tfidf_lr_elasticnet", lambda: make_pipeline(TfidfVectorizer(max_features=3000),
        LogisticRegression(penalty="elasticnet", l1_ratio=0.5, solver="saga", max_iter=3000))))
    add(_both("count_binary_bernoulli", lambda: make_pipeline(CountVectorizer(binary=True, max_features=2000),
        BernoulliNB())))
    add(_both("tfidf_complementnb", lambda: make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2),
        ComplementNB(alpha=0.3))))
    add(_both("tfidf_ridge", lambda: make_pipeline(TfidfVectorizer(), RidgeClassifier(alpha=1.0))))
    add(_both("tfidf_perceptron", lambda: make_pipeline(TfidfVectorizer(), Perceptron(max_iter=50, random_state=0))))
    add(_both("sgd_log_elasticnet_balanced", lambda: make_pipeline(TfidfVectorizer(min_df=2, max_df=0.9),
        SGDClassifier(loss="log_loss", penalty="elasticnet", class_weight="balanced", random_state=42,
                      max_iter=50, tol=None))))
    add(_both("sgd_modified_huber_average", lambda: make_pipeline(TfidfVectorizer(sublinear_tf=True),
        SGDClassifier(loss="modified_huber", average=True, random_state=0, max_iter=30, tol=None))))
    add(_both("tfidf_strip_accents_unicode_lr", lambda: make_pipeline(TfidfVectorizer(
        strip_accents="unicode", lowercase=True, token_pattern=r"(?u)\b\w+\b", min_df=1, max_df=0.95),
        LogisticRegression(max_iter=1000))))
    add(_both("tfidf_custom_stopword_list_svc", lambda: make_pipeline(TfidfVectorizer(
        stop_words=["the", "a", "an", "and", "or", "to", "of", "in", "it", "is"], ngram_range=(1, 3), max_features=4000),
        LinearSVC(C=0.5))))
    add(_both("char_wb_tfidf_lr", lambda: make_pipeline(TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), max_features=3000), LogisticRegression(max_iter=1000))))
    add(_both("float32_tfidf_linearsvc", lambda: make_pipeline(TfidfVectorizer(dtype=np.float32), LinearSVC())))
    add(_both("word_char_union_lr", lambda: make_pipeline(FeatureUnion([
        ("word", TfidfVectorizer(analyzer="word", sublinear_tf=True, max_features=3000)),
        ("char", TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, max_features=2000))]),
        LogisticRegression(C=2, solver="sag", max_iter=2000))))
    add(_both("make_union_weights_svc", lambda: make_pipeline(make_union(
        TfidfVectorizer(), CountVectorizer(binary=True, max_features=500)), LinearSVC())))
    add(_both("union_weighted_drop_ridge", lambda: Pipeline([("features", FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), max_features=3000)), ("unused", "drop"),
        ("hashed", HashingVectorizer(n_features=2 ** 10))], transformer_weights={"words": 1.0, "hashed": 0.5})),
        ("clf", RidgeClassifier())])))
    add(_both("out_of_core_hashing_sgd", lambda: make_pipeline(HashingVectorizer(
        decode_error="ignore", n_features=2 ** 18, alternate_sign=False), TfidfTransformer(),
        SGDClassifier(random_state=0, max_iter=20, tol=None))))
    add(_both("labels_int_lr", lambda: make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000)), "int"))
    add(_both("labels_object_mnb", lambda: make_pipeline(CountVectorizer(), MultinomialNB()), "object"))

    # --- searches saved as they are (best_estimator_ is what serves)
    add(_both("grid_lr_C_f1macro_skf", lambda: _search(
        Pipeline([("tfidf", TfidfVectorizer(max_features=5000)), ("clf", LogisticRegression(max_iter=1000))]),
        {"clf__C": [0.1, 10], "tfidf__ngram_range": [(1, 1), (1, 2)]},
        cv=_skf(), scoring="f1_macro", return_train_score=True, verbose=0, error_score="raise")))
    add(_both("grid_svc_make_scorer", lambda: _search(
        make_pipeline(TfidfVectorizer(sublinear_tf=True), LinearSVC()), {"linearsvc__C": [0.1, 1.0]},
        scoring=make_scorer(f1_score, average="macro"), cv=KFold(n_splits=3, shuffle=True, random_state=0))))
    add(_both("grid_multimetric_refit", lambda: _search(
        Pipeline([("vec", CountVectorizer()), ("nb", MultinomialNB())]), {"nb__alpha": [0.1, 0.5, 1.0]},
        scoring={"acc": "accuracy", "f1": "f1_macro", "mcc": make_scorer(matthews_corrcoef),
                 "prec": make_scorer(precision_score, average="macro", zero_division=0)},
        refit="f1", cv=StratifiedShuffleSplit(n_splits=2, test_size=0.25, random_state=1))))
    add(_both("grid_model_selection_candidates", lambda: _search(
        Pipeline([("vec", TfidfVectorizer()), ("clf", LogisticRegression())]),
        [{"clf": [LogisticRegression(max_iter=1000)], "clf__C": [1, 10]},
         {"clf": [MultinomialNB()], "clf__alpha": [0.1, 1.0]},
         {"clf": [RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)]}],
        cv=_skf(), scoring="accuracy")))
    add(_both("grid_passthrough_selector", lambda: _search(
        Pipeline([("vec", TfidfVectorizer()), ("select", "passthrough"), ("clf", LinearSVC())]),
        {"select": ["passthrough", SelectKBest(chi2, k=200)], "clf__C": [0.5, 1.0]}, cv=2)))
    add(_both("grid_memory_pipeline", lambda: _search(
        Pipeline([("vec", TfidfVectorizer()), ("clf", RidgeClassifier())], memory=Memory(location=None, verbose=0)),
        {"clf__alpha": [0.5, 2.0]}, cv=2)))
    add(_both("randomized_loguniform_lr", lambda: _rsearch(
        Pipeline([("tfidf", TfidfVectorizer()), ("lr", LogisticRegression(max_iter=1000))]),
        {"lr__C": loguniform(1e-2, 1e2), "tfidf__min_df": randint(1, 4), "tfidf__sublinear_tf": [True, False]},
        cv=_skf(), scoring="f1_weighted")))
    add(_both("randomized_sgd_uniform_expon", lambda: _rsearch(
        make_pipeline(TfidfVectorizer(), SGDClassifier(loss="log_loss", random_state=0, max_iter=30, tol=None)),
        {"sgdclassifier__alpha": expon(scale=1e-4), "sgdclassifier__l1_ratio": uniform(0, 1),
         "sgdclassifier__penalty": ["l2", "elasticnet"]},
        cv=RepeatedStratifiedKFold(n_splits=2, n_repeats=1, random_state=0),
        scoring=make_scorer(fbeta_score, beta=0.5, average="macro"))))
    add(_both("randomized_mnb_shufflesplit", lambda: _rsearch(
        make_pipeline(CountVectorizer(), MultinomialNB()), {"multinomialnb__alpha": uniform(0.01, 1.0)},
        cv=ShuffleSplit(n_splits=2, test_size=0.3, random_state=0), scoring="accuracy")))
    add(_both("search_as_last_step", lambda: make_pipeline(TfidfVectorizer(), GridSearchCV(
        LogisticRegression(max_iter=1000), {"C": [1.0, 10.0]}, cv=3, scoring="balanced_accuracy"))))
    add(_both("grid_kbest_k", lambda: _search(
        Pipeline([("tfidf", TfidfVectorizer()), ("kbest", SelectKBest(chi2)), ("clf", LogisticRegression(max_iter=1000))]),
        {"kbest__k": [100, 500]}, cv=2, scoring=make_scorer(recall_score, average="macro"))))
    add(_both("grid_accuracy_score_ref", lambda: _search(
        make_pipeline(TfidfVectorizer(), ComplementNB()), {"complementnb__alpha": [0.5, 1.0]},
        scoring=make_scorer(accuracy_score), cv=2)))
    add(_both("halving_grid_lr", lambda: HalvingGridSearchCV(
        Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=1000))]),
        {"clf__C": [0.1, 1, 10, 100]}, factor=2, cv=_skf(), scoring="f1_macro", random_state=0)))
    add(_both("halving_random_sgd", lambda: HalvingRandomSearchCV(
        make_pipeline(TfidfVectorizer(), SGDClassifier(random_state=0, max_iter=20, tol=None)),
        {"sgdclassifier__alpha": loguniform(1e-5, 1e-2), "sgdclassifier__loss": ["hinge", "modified_huber"]},
        n_candidates=4, factor=2, cv=2, random_state=0)))
    add(_both("lrcv_in_pipeline", lambda: make_pipeline(TfidfVectorizer(), LogisticRegressionCV(
        Cs=4, cv=3, max_iter=1000, scoring="accuracy"))))
    add(_both("ridgecv_in_pipeline", lambda: make_pipeline(TfidfVectorizer(), RidgeClassifierCV(alphas=[0.1, 1.0, 10.0]))))

    # --- probabilities bolted on
    add(_both("calibrated_linearsvc", lambda: make_pipeline(TfidfVectorizer(),
        CalibratedClassifierCV(LinearSVC(), cv=3))))
    add(_both("calibrated_sgd_isotonic", lambda: make_pipeline(TfidfVectorizer(),
        CalibratedClassifierCV(SGDClassifier(random_state=0, max_iter=30, tol=None), method="isotonic", cv=3))))
    add(_both("calibrated_whole_pipeline", lambda: CalibratedClassifierCV(
        make_pipeline(TfidfVectorizer(), LinearSVC()), cv=3)))
    add(_both("calibrated_pipeline_no_ensemble", lambda: CalibratedClassifierCV(
        make_pipeline(CountVectorizer(), MultinomialNB()), method="sigmoid", cv=3, ensemble=False)))
    add(_both("grid_over_calibrated", lambda: _search(
        make_pipeline(TfidfVectorizer(), CalibratedClassifierCV(LinearSVC(), cv=2)),
        {"calibratedclassifiercv__estimator__C": [0.5, 1.0]}, cv=2)))

    # --- feature selection and scaling
    add(_both("kbest_chi2_mnb", lambda: make_pipeline(CountVectorizer(), SelectKBest(chi2, k=300), MultinomialNB())))
    add(_both("percentile_fclassif_lr", lambda: make_pipeline(TfidfVectorizer(), SelectPercentile(f_classif, percentile=10),
        LogisticRegression(max_iter=1000))))
    add(_both("kbest_mutual_info_svc", lambda: make_pipeline(TfidfVectorizer(max_features=500),
        SelectKBest(mutual_info_classif, k=100), LinearSVC())))
    add(_both("generic_univariate_percentile", lambda: make_pipeline(TfidfVectorizer(),
        GenericUnivariateSelect(chi2, mode="percentile", param=20), RidgeClassifier())))
    add(_both("variance_threshold_maxabs_sgd", lambda: make_pipeline(CountVectorizer(), VarianceThreshold(0.0005),
        MaxAbsScaler(), SGDClassifier(loss="log_loss", random_state=0, max_iter=30, tol=None))))
    add(_both("standard_scaler_sparse_lr", lambda: make_pipeline(TfidfVectorizer(), StandardScaler(with_mean=False),
        LogisticRegression(max_iter=2000))))
    add(_both("lsa_svd_normalizer_lr", lambda: make_pipeline(TfidfVectorizer(max_df=0.5, min_df=2, stop_words="english"),
        TruncatedSVD(50, random_state=42), Normalizer(copy=False), LogisticRegression(max_iter=1000))))
    add(_both("svd_minmax_mnb", lambda: make_pipeline(TfidfVectorizer(), TruncatedSVD(30, random_state=0),
        MinMaxScaler(), MultinomialNB())))
    add(_both("svd_scaler_pca_svc", lambda: make_pipeline(TfidfVectorizer(), TruncatedSVD(40, random_state=0),
        StandardScaler(), PCA(n_components=10, random_state=0), SVC())))

    # --- models compared in one notebook, then combined
    add(_both("ovr_linearsvc", lambda: make_pipeline(TfidfVectorizer(), OneVsRestClassifier(LinearSVC()))))
    add(_both("ovr_lr", lambda: Pipeline([("tfidf", TfidfVectorizer()),
        ("clf", OneVsRestClassifier(LogisticRegression(solver="sag", max_iter=1000)))])))
    add(_both("ovo_sgd", lambda: make_pipeline(TfidfVectorizer(), OneVsOneClassifier(
        SGDClassifier(random_state=0, max_iter=30, tol=None)))))
    add(_both("voting_hard_lr_nb_svc", lambda: make_pipeline(TfidfVectorizer(), VotingClassifier([
        ("lr", LogisticRegression(max_iter=1000)), ("nb", MultinomialNB()), ("svc", LinearSVC())]))))
    add(_both("voting_soft_lr_nb_rf", lambda: make_pipeline(TfidfVectorizer(), VotingClassifier([
        ("lr", LogisticRegression(max_iter=1000)), ("nb", MultinomialNB()),
        ("rf", RandomForestClassifier(n_estimators=20, random_state=42))], voting="soft", weights=[2, 1, 1]))))
    add(_both("stacking_svc_nb_lr", lambda: make_pipeline(TfidfVectorizer(), StackingClassifier([
        ("svc", LinearSVC()), ("nb", MultinomialNB())], final_estimator=LogisticRegression(), cv=3))))
    add(_both("stacking_passthrough_proba", lambda: make_pipeline(TfidfVectorizer(max_features=2000), StackingClassifier([
        ("lr", LogisticRegression(max_iter=1000)), ("nb", ComplementNB())], stack_method="predict_proba",
        passthrough=True, cv=_skf()))))

    # --- feature selection by a forest's importances, then a linear model
    add(_both("select_from_forest_lr", lambda: make_pipeline(TfidfVectorizer(min_df=2),
        SelectFromModel(RandomForestClassifier(n_estimators=50, random_state=42)), LogisticRegression(max_iter=1000))))

    # --- whole pipelines compared in one notebook, then combined on the raw text (each its own vectorizer)
    add(_both("voting_soft_text_pipelines", lambda: VotingClassifier([
        ("lr", make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2), LogisticRegression(max_iter=1000))),
        ("nb", make_pipeline(CountVectorizer(), MultinomialNB())),
        ("lsa", make_pipeline(TfidfVectorizer(), TruncatedSVD(20, random_state=0), LogisticRegression()))],
        voting="soft", weights=[2, 1, 1])))
    add(_both("voting_hard_text_pipelines", lambda: VotingClassifier([
        ("word", make_pipeline(TfidfVectorizer(sublinear_tf=True), LinearSVC())),
        ("char", make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=3000),
                               SGDClassifier(random_state=0))),
        ("nb", make_pipeline(CountVectorizer(binary=True), BernoulliNB()))])))
    add(_both("stacking_text_pipelines", lambda: StackingClassifier([
        ("lr", make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))),
        ("nb", make_pipeline(CountVectorizer(), ComplementNB())),
        ("svc", make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC()))],
        final_estimator=LogisticRegression(), cv=3)))

    # --- trees, forests, boosting on TF-IDF
    add(_both("random_forest_tfidf", lambda: make_pipeline(TfidfVectorizer(max_features=3000),
        RandomForestClassifier(n_estimators=30, random_state=42))))
    add(_both("random_forest_balanced_depth", lambda: make_pipeline(TfidfVectorizer(min_df=2),
        RandomForestClassifier(n_estimators=25, max_depth=20, class_weight="balanced", min_samples_leaf=2,
                               random_state=0))))
    add(_both("extra_trees_count", lambda: make_pipeline(CountVectorizer(max_features=2000),
        ExtraTreesClassifier(n_estimators=25, random_state=0))))
    add(_both("decision_tree_entropy", lambda: make_pipeline(TfidfVectorizer(),
        DecisionTreeClassifier(criterion="entropy", max_depth=15, random_state=0))))
    add(_both("gradient_boosting_tfidf", lambda: make_pipeline(TfidfVectorizer(max_features=2000),
        GradientBoostingClassifier(n_estimators=25, max_depth=3, random_state=0))))
    add(_both("adaboost_tfidf", lambda: make_pipeline(TfidfVectorizer(max_features=2000),
        AdaBoostClassifier(n_estimators=30, random_state=0))))
    add(_both("svd_hist_gradient_boosting", lambda: make_pipeline(TfidfVectorizer(), TruncatedSVD(30, random_state=0),
        HistGradientBoostingClassifier(max_iter=20, random_state=0))))
    add(_both("grid_forest_depth", lambda: _search(make_pipeline(TfidfVectorizer(max_features=1500),
        RandomForestClassifier(n_estimators=10, random_state=0)),
        {"randomforestclassifier__max_depth": [5, None]}, cv=2, scoring="f1_macro")))

    # --- kernels, networks, neighbours
    add(_both("svc_rbf_default", lambda: make_pipeline(TfidfVectorizer(), SVC())))
    add(_both("svc_linear_probability", lambda: make_pipeline(TfidfVectorizer(),
        SVC(kernel="linear", C=1, probability=True, random_state=42))))
    add(_both("grid_svc_kernel_gamma", lambda: _search(make_pipeline(TfidfVectorizer(), SVC()),
        {"svc__kernel": ["linear", "rbf"], "svc__C": [1, 10]}, cv=2)))
    add(_both("nusvc_rbf", lambda: make_pipeline(TfidfVectorizer(), NuSVC(nu=0.3))))
    add(_both("mlp_tfidf", lambda: make_pipeline(TfidfVectorizer(max_features=2000),
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=40, random_state=1))))
    add(_both("mlp_early_stopping", lambda: make_pipeline(TfidfVectorizer(max_features=2000),
        MLPClassifier(hidden_layer_sizes=(16, 8), early_stopping=True, max_iter=60, random_state=1))))
    add(_both("knn_cosine_tfidf", lambda: make_pipeline(TfidfVectorizer(), KNeighborsClassifier(
        n_neighbors=5, metric="cosine", weights="distance"))))
    add(_both("knn_distance_tfidf", lambda: make_pipeline(TfidfVectorizer(), KNeighborsClassifier(
        n_neighbors=5, weights="distance"))))
    add(_both("svd_knn", lambda: make_pipeline(TfidfVectorizer(), TruncatedSVD(25, random_state=0),
        KNeighborsClassifier(n_neighbors=7))))
    add(_both("nearest_centroid", lambda: make_pipeline(TfidfVectorizer(), NearestCentroid())))
    return z


ZOO: list[Pipe] = _zoo()


def to_dense(x):
    """A user's own function (what FunctionTransformer(to_dense) pickles by reference)."""
    return x.toarray()


def shout(text):
    """A user's own preprocessor."""
    return text.upper()


# What needs the user's own Python code, or a Python builtin called as a function: these must be
# refused with an error that names the function, never served.
CUSTOM: list[tuple[Pipe, str]] = [
    (Pipe("custom_function_transformer_dense", "sentiment", lambda: make_pipeline(
        TfidfVectorizer(), FunctionTransformer(to_dense, accept_sparse=True), LogisticRegression(max_iter=1000))),
     "to_dense"),
    (Pipe("custom_preprocessor", "sentiment", lambda: make_pipeline(
        TfidfVectorizer(preprocessor=shout), LogisticRegression(max_iter=1000))), "shout"),
    (Pipe("custom_tokenizer_str_split", "sentiment", lambda: make_pipeline(
        TfidfVectorizer(tokenizer=str.split, token_pattern=None), LogisticRegression(max_iter=1000))), "builtins.str"),
]

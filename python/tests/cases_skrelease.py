"""Parity cases for item 5's rest (issue 16, sk-release): SelectFromModel, LinearDiscriminantAnalysis as
classifier and transformer, GenericUnivariateSelect's p-value modes and SelectFpr/SelectFdr/SelectFwe."""

from __future__ import annotations

from sklearn.decomposition import TruncatedSVD
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import (GenericUnivariateSelect, SelectFdr, SelectFromModel, SelectFpr, SelectFwe,
                                       chi2, f_classif)
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from cases import Case, _count, _lr, _tfidf

CASES = [
    Case("skr_spam_from_model_l1svc", lambda: make_pipeline(_tfidf(), SelectFromModel(
        LinearSVC(penalty="l1", dual=False)), _lr(C=10)), "spam"),
    Case("skr_sent_from_model_lr_median_max", lambda: make_pipeline(_tfidf(), SelectFromModel(
        _lr(C=10), threshold="0.5*median", max_features=800), _lr()), "sentiment"),
    # over trees: the importances scikit-learn computes from the trees at predict time, recomputed
    Case("skr_spam_from_model_forest", lambda: make_pipeline(_tfidf(), SelectFromModel(
        RandomForestClassifier(n_estimators=30, random_state=0)), _lr(C=10)), "spam"),
    Case("skr_sent_from_model_extra_trees_median", lambda: make_pipeline(_tfidf(), SelectFromModel(
        ExtraTreesClassifier(n_estimators=25, random_state=0), threshold="median"), LinearSVC()), "sentiment"),
    Case("skr_spam_from_model_tree_max", lambda: make_pipeline(_count(), SelectFromModel(
        DecisionTreeClassifier(random_state=0), threshold=-float("inf"), max_features=50), MultinomialNB()), "spam"),
    Case("skr_sent_from_model_boosting", lambda: make_pipeline(_tfidf(), SelectFromModel(
        GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0), threshold="1.25*mean"), _lr()),
         "sentiment"),
    Case("skr_sent_lda_svd", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                   LinearDiscriminantAnalysis()), "sentiment"),
    Case("skr_spam_lda_eigen_transform_lr", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                                  LinearDiscriminantAnalysis(solver="eigen"), _lr()),
         "spam"),
    Case("skr_sent_generic_fdr", lambda: make_pipeline(_count(), GenericUnivariateSelect(chi2, mode="fdr", param=0.05),
                                                       MultinomialNB()), "sentiment"),
    Case("skr_spam_fpr_fwe", lambda: make_pipeline(_tfidf(), SelectFpr(chi2, alpha=0.2), SelectFwe(f_classif, alpha=0.5),
                                                   _lr(C=10)), "spam"),
    Case("skr_sent_fdr_int", lambda: make_pipeline(_tfidf(), SelectFdr(f_classif, alpha=0.1), LinearSVC()),
         "sentiment", "int"),
]

"""Release-fixture cases for the estimators beyond linear models (issue 16, sk-release): meta-estimators,
trees and ensembles, SVMs, MLP, nearest neighbours and centroids, feature selection by model, LDA.

Imported by make_release_fixtures.py inside each release's venv, so it only uses what every
scikit-learn from 1.0 has, and bends to the parameters a release renamed or dropped. The models are
kept small (few features, few and shallow trees, a subsample for the neighbour models that store
their training rows): these files are committed for every release.
"""

from __future__ import annotations


def cases(major_minor, tfidf):
    """name -> (factory, binary?) for the release `major_minor` (a (major, minor) tuple)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.ensemble import (AdaBoostClassifier, ExtraTreesClassifier, GradientBoostingClassifier,
                                  HistGradientBoostingClassifier, RandomForestClassifier, StackingClassifier,
                                  VotingClassifier)
    from sklearn.feature_selection import GenericUnivariateSelect, SelectFromModel, chi2
    from sklearn.linear_model import (LogisticRegression, LogisticRegressionCV, RidgeClassifierCV,
                                      SGDClassifier)
    from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC, LinearSVC, NuSVC
    from sklearn.tree import DecisionTreeClassifier

    def small(**kw):
        kw.setdefault("max_features", 100)
        return tfidf(**kw)

    def chars():  # character n-grams: no training text is all out-of-vocabulary, so no two rows tie at 0
        return small(analyzer="char_wb", ngram_range=(2, 3))

    def lr(**kw):
        return LogisticRegression(max_iter=1000, **kw)

    def sgd(loss):
        return SGDClassifier(loss=loss, random_state=0, max_iter=30, tol=None)

    def svd(n):
        return TruncatedSVD(n, random_state=0)

    def ada(**kw):
        # algorithm="SAMME" is the only one from 1.6 (the parameter is gone in 1.8); before 1.6 the
        # default is SAMME.R, saved by its own case below
        if major_minor < (1, 6):
            kw.setdefault("algorithm", "SAMME")
        return AdaBoostClassifier(random_state=0, **kw)

    def ada_base(est, **kw):  # base_estimator until 1.1, estimator from 1.2 (base_estimator gone in 1.4)
        key = "base_estimator" if major_minor < (1, 2) else "estimator"
        return ada(**{key: est}, **kw)

    def subsample(make, every):
        make.every = every  # the worker trains on every `every`-th row only
        return make

    out = {
        # meta-estimators
        "ovr_sgd_hinge": (lambda: make_pipeline(small(), OneVsRestClassifier(sgd("hinge"))), False),
        "ovr_lr_binary": (lambda: make_pipeline(small(), OneVsRestClassifier(lr())), True),
        "ovo_linear_svc": (lambda: make_pipeline(small(), OneVsOneClassifier(LinearSVC())), False),
        "voting_hard_weights": (lambda: make_pipeline(small(), VotingClassifier([
            ("lr", lr()), ("nb", MultinomialNB()), ("sgd", sgd("hinge"))], weights=[1, 2.5, 1])), False),
        "voting_soft": (lambda: make_pipeline(small(), VotingClassifier([
            ("lr", lr()), ("nb", MultinomialNB())], voting="soft", weights=[2, 1])), False),
        "stacking_passthrough": (lambda: make_pipeline(small(), StackingClassifier([
            ("svc", LinearSVC()), ("nb", MultinomialNB())], final_estimator=lr(), passthrough=True, cv=3)), False),
        "stacking_predict_binary": (lambda: make_pipeline(small(), StackingClassifier([
            ("sgd", sgd("hinge")), ("nb", MultinomialNB())], final_estimator=LinearSVC(), stack_method="predict",
            cv=3)), True),
        "lrcv": (lambda: make_pipeline(small(), LogisticRegressionCV(Cs=3, cv=3, max_iter=1000)), False),
        "ridgecv_binary": (lambda: make_pipeline(small(), RidgeClassifierCV(alphas=(0.1, 1.0, 10.0))), True),
        "ridgecv": (lambda: make_pipeline(small(), RidgeClassifierCV()), False),
        # trees and ensembles, on sparse TF-IDF and after TruncatedSVD
        "tree_tfidf": (lambda: make_pipeline(small(), DecisionTreeClassifier(max_depth=8, random_state=0)), False),
        "forest_tfidf_binary": (lambda: make_pipeline(small(), RandomForestClassifier(
            n_estimators=5, max_depth=6, random_state=0)), True),
        "extratrees_svd": (lambda: make_pipeline(small(), svd(10), ExtraTreesClassifier(
            n_estimators=5, max_depth=6, random_state=0)), False),
        "gb_tfidf_binary": (lambda: make_pipeline(small(), GradientBoostingClassifier(
            n_estimators=10, max_depth=2, random_state=0)), True),
        "gb_svd": (lambda: make_pipeline(small(), svd(10), GradientBoostingClassifier(
            n_estimators=5, max_depth=2, subsample=0.8, random_state=0)), False),
        "hgb_svd": (lambda: make_pipeline(small(), svd(10), HistGradientBoostingClassifier(
            max_iter=10, max_leaf_nodes=8, random_state=0)), False),
        "hgb_svd_binary": (lambda: make_pipeline(small(), svd(10), HistGradientBoostingClassifier(
            max_iter=10, max_leaf_nodes=8, random_state=0)), True),
        "ada_stumps": (lambda: make_pipeline(small(), ada(n_estimators=10)), False),
        "ada_tree_binary": (lambda: make_pipeline(small(), ada_base(
            DecisionTreeClassifier(max_depth=2), n_estimators=5, learning_rate=0.5)), True),
        # kernel and other models
        "svc_rbf_proba": (subsample(lambda: make_pipeline(small(), SVC(C=10, probability=True, random_state=0)), 3),
                          False),
        "svc_linear_binary": (subsample(lambda: make_pipeline(small(), SVC(kernel="linear")), 3), True),
        "svc_poly_ovo": (subsample(lambda: make_pipeline(small(), SVC(kernel="poly", degree=2, coef0=1,
                                                                      decision_function_shape="ovo")), 3), False),
        "nusvc_sigmoid_svd": (subsample(lambda: make_pipeline(small(), svd(10), NuSVC(nu=0.3, kernel="sigmoid")), 3),
                              False),
        "mlp_relu": (lambda: make_pipeline(small(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=50,
                                                                  random_state=0)), False),
        "mlp_tanh_binary": (lambda: make_pipeline(small(), MLPClassifier(hidden_layer_sizes=(6, 4), activation="tanh",
                                                                         max_iter=50, random_state=0)), True),
        "knn_svd_kdtree": (subsample(lambda: make_pipeline(chars(), svd(5), KNeighborsClassifier(
            weights="distance", algorithm="kd_tree")), 5), False),
        # (not KNeighbors on sparse TF-IDF rows: an empty text is equally far from every row, and
        # scikit-learn picks among ties with numpy's argpartition, which differs between CPUs; nor on word
        # features, where the training texts with no known word all sit at the origin, tied)
        "knn_svd_brute_uniform": (subsample(lambda: make_pipeline(chars(), svd(5), KNeighborsClassifier(
            n_neighbors=7, algorithm="brute")), 5), False),
        "centroid_tfidf": (lambda: make_pipeline(small(), NearestCentroid()), False),
        "centroid_svd_manhattan": (lambda: make_pipeline(small(), svd(10), NearestCentroid(metric="manhattan")), False),
        # item 5's rest: selection by a model, LDA, GenericUnivariateSelect's p-value modes
        "select_from_model_lr": (lambda: make_pipeline(small(), SelectFromModel(lr(C=10), threshold="0.5*median"),
                                                       lr()), False),
        "select_from_model_l1svc_binary": (lambda: make_pipeline(small(), SelectFromModel(
            LinearSVC(penalty="l1", dual=False), max_features=40), MultinomialNB()), True),
        "lda_svd": (lambda: make_pipeline(small(), svd(10), LinearDiscriminantAnalysis()), False),
        "lda_transform_lr": (lambda: make_pipeline(small(), svd(10), LinearDiscriminantAnalysis(), lr()), False),
        "generic_fpr_lr": (lambda: make_pipeline(small(), GenericUnivariateSelect(chi2, mode="fpr", param=0.05),
                                                 lr()), False),
        "generic_fdr_fwe_binary": (lambda: make_pipeline(small(), GenericUnivariateSelect(chi2, mode="fdr", param=0.1),
                                                         GenericUnivariateSelect(chi2, mode="fwe", param=0.5), lr()),
                                   True),
    }
    if major_minor < (1, 6):  # SAMME.R: AdaBoost's default until 1.4, deprecated in 1.4, gone in 1.6
        out["ada_samme_r"] = (lambda: make_pipeline(small(), AdaBoostClassifier(n_estimators=5, random_state=0)),
                              False)
    return out

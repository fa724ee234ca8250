"""Parity cases for meta-estimators, trees and ensembles, kernel and neighbour models (issue 16, sk-models)."""

from __future__ import annotations

from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import (AdaBoostClassifier, ExtraTreesClassifier, HistGradientBoostingClassifier, GradientBoostingClassifier, RandomForestClassifier, StackingClassifier,
                              VotingClassifier)
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegressionCV, RidgeClassifierCV
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC, LinearSVC, NuSVC

from cases import Case, _count, _lr, _sgd, _tfidf

CASES = [
    # --- item 6: meta-estimators
    Case("spam_ovr_sgd_hinge", lambda: make_pipeline(_tfidf(), OneVsRestClassifier(_sgd("hinge"))), "spam"),
    Case("spam_ovr_mnb", lambda: make_pipeline(_count(), OneVsRestClassifier(MultinomialNB())), "spam"),
    Case("sent_ovr_lr", lambda: make_pipeline(_tfidf(), OneVsRestClassifier(_lr(C=5))), "sentiment"),
    Case("sent_ovr_mnb_int", lambda: make_pipeline(_count(), OneVsRestClassifier(MultinomialNB())), "sentiment", "int"),
    Case("sent_ovr_linsvc", lambda: make_pipeline(_tfidf(), OneVsRestClassifier(LinearSVC())), "sentiment"),
    Case("spam_ovo_lr", lambda: make_pipeline(_tfidf(), OneVsOneClassifier(_lr())), "spam"),
    Case("sent_ovo_linsvc", lambda: make_pipeline(_tfidf(), OneVsOneClassifier(LinearSVC())), "sentiment"),
    Case("sent_ovo_mnb_object", lambda: make_pipeline(_count(), OneVsOneClassifier(MultinomialNB())), "sentiment", "object"),
    Case("sent_voting_hard", lambda: make_pipeline(_tfidf(), VotingClassifier([
        ("lr", _lr()), ("nb", MultinomialNB()), ("sgd", _sgd("hinge"))])), "sentiment"),
    Case("sent_voting_hard_weights_int", lambda: make_pipeline(_tfidf(), VotingClassifier([
        ("lr", _lr()), ("nb", MultinomialNB()), ("svc", LinearSVC())], weights=[1, 2.5, 1])), "sentiment", "int"),
    Case("spam_voting_hard_drop", lambda: make_pipeline(_tfidf(), VotingClassifier([
        ("lr", _lr()), ("skip", "drop"), ("nb", MultinomialNB()), ("sgd", _sgd("hinge"))], weights=[1, 5, 2, 1])), "spam"),
    Case("sent_voting_soft", lambda: make_pipeline(_tfidf(), VotingClassifier([
        ("lr", _lr()), ("nb", MultinomialNB())], voting="soft")), "sentiment"),
    Case("spam_voting_soft_weights", lambda: make_pipeline(_tfidf(), VotingClassifier([
        ("lr", _lr()), ("nb", MultinomialNB()),
        ("cal", CalibratedClassifierCV(LinearSVC(), cv=3))], voting="soft", weights=[2, 1, 0.5])), "spam"),
    Case("sent_stacking_auto", lambda: make_pipeline(_tfidf(), StackingClassifier([
        ("lr", _lr()), ("nb", MultinomialNB()), ("svc", LinearSVC())], cv=3)), "sentiment"),
    Case("spam_stacking_auto", lambda: make_pipeline(_tfidf(), StackingClassifier([
        ("svc", LinearSVC()), ("nb", MultinomialNB())], cv=3)), "spam"),
    Case("spam_stacking_passthrough", lambda: make_pipeline(_tfidf(), StackingClassifier([
        ("svc", LinearSVC()), ("nb", MultinomialNB())], final_estimator=_lr(), passthrough=True, cv=3)), "spam"),
    Case("sent_stacking_predict_passthrough_object", lambda: make_pipeline(_tfidf(), StackingClassifier([
        ("sgd", _sgd("hinge")), ("nb", MultinomialNB())], final_estimator=LinearSVC(), stack_method="predict",
        passthrough=True, cv=3)), "sentiment", "object"),
    Case("spam_lrcv", lambda: make_pipeline(_tfidf(), LogisticRegressionCV(Cs=3, cv=3, max_iter=2000)), "spam"),
    Case("sent_lrcv", lambda: make_pipeline(_tfidf(), LogisticRegressionCV(Cs=3, cv=3, max_iter=2000)), "sentiment"),
    Case("spam_ridgecv", lambda: make_pipeline(_tfidf(), RidgeClassifierCV(alphas=(0.1, 1.0, 10.0))), "spam"),
    Case("sent_ridgecv_int", lambda: make_pipeline(_tfidf(), RidgeClassifierCV()), "sentiment", "int"),
    # --- item 7: trees and ensembles, on sparse TF-IDF and after TruncatedSVD
    Case("spam_tree_tfidf", lambda: make_pipeline(_tfidf(), DecisionTreeClassifier(random_state=0)), "spam"),
    Case("sent_tree_count_depth_int", lambda: make_pipeline(_count(), DecisionTreeClassifier(max_depth=12, random_state=0)),
         "sentiment", "int"),
    Case("sent_extratree_svd", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                     ExtraTreeClassifier(random_state=0)), "sentiment"),
    Case("spam_forest_tfidf", lambda: make_pipeline(_tfidf(), RandomForestClassifier(n_estimators=50, random_state=0)), "spam"),
    Case("sent_forest_svd", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                  RandomForestClassifier(n_estimators=40, random_state=0)), "sentiment"),
    Case("sent_extratrees_tfidf_object", lambda: make_pipeline(_tfidf(), ExtraTreesClassifier(n_estimators=40, random_state=0)),
         "sentiment", "object"),
    Case("spam_ovr_forest", lambda: make_pipeline(_tfidf(), OneVsRestClassifier(
        RandomForestClassifier(n_estimators=10, random_state=0))), "spam"),
    Case("spam_gb_tfidf", lambda: make_pipeline(_tfidf(), GradientBoostingClassifier(n_estimators=40, random_state=0)), "spam"),
    Case("sent_gb_tfidf_subsample", lambda: make_pipeline(_tfidf(), GradientBoostingClassifier(
        n_estimators=30, max_depth=2, subsample=0.7, random_state=0)), "sentiment"),
    Case("sent_gb_svd_int", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                  GradientBoostingClassifier(n_estimators=30, random_state=0)), "sentiment", "int"),
    Case("spam_gb_exponential", lambda: make_pipeline(_count(), GradientBoostingClassifier(
        n_estimators=30, loss="exponential", learning_rate=0.2, random_state=0)), "spam"),
    Case("spam_ada_stumps", lambda: make_pipeline(_tfidf(), AdaBoostClassifier(n_estimators=50, random_state=0)), "spam"),
    Case("sent_ada_tree_object", lambda: make_pipeline(_tfidf(), AdaBoostClassifier(
        DecisionTreeClassifier(max_depth=3), n_estimators=20, learning_rate=0.5, random_state=0)), "sentiment", "object"),
    Case("sent_ada_svd", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                               AdaBoostClassifier(n_estimators=30, random_state=0)), "sentiment"),
    Case("spam_hgb_svd", lambda: make_pipeline(_tfidf(), TruncatedSVD(40, random_state=0),
                                               HistGradientBoostingClassifier(max_iter=25, random_state=0)), "spam"),
    Case("sent_hgb_svd_early_int", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                         HistGradientBoostingClassifier(max_iter=30, early_stopping=True,
                                                                                        random_state=0)), "sentiment", "int"),
    # --- item 8: kernel and other models
    Case("spam_svc_rbf", lambda: make_pipeline(_tfidf(), SVC()), "spam"),
    Case("spam_svc_linear_proba", lambda: make_pipeline(_tfidf(), SVC(kernel="linear", probability=True, random_state=0)), "spam"),
    Case("sent_svc_rbf_proba", lambda: make_pipeline(_tfidf(), SVC(C=10, probability=True, random_state=0)), "sentiment"),
    Case("sent_svc_poly_ovo_int", lambda: make_pipeline(_tfidf(), SVC(kernel="poly", degree=3, coef0=1,
                                                                      decision_function_shape="ovo")), "sentiment", "int"),
    Case("sent_svc_sigmoid_svd_ties", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                            SVC(kernel="sigmoid", break_ties=True)), "sentiment"),
    Case("sent_nusvc_rbf_proba_object", lambda: make_pipeline(_tfidf(), NuSVC(nu=0.3, probability=True, random_state=0)),
         "sentiment", "object"),
    Case("spam_mlp_relu", lambda: make_pipeline(_tfidf(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=60,
                                                                         random_state=0)), "spam"),
    Case("sent_mlp_tanh_2layers", lambda: make_pipeline(_tfidf(), MLPClassifier(hidden_layer_sizes=(24, 12), activation="tanh",
                                                                                max_iter=60, random_state=0)), "sentiment"),
    Case("sent_mlp_svd_logistic_int", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0), MLPClassifier(
        hidden_layer_sizes=(16,), activation="logistic", max_iter=200, random_state=0)), "sentiment", "int"),
    # KNeighbors on sparse rows with uniform weights is left out: scikit-learn breaks ties at the k-th
    # distance with numpy's argpartition, which differs between CPUs (see TestKNeighborsSparseParity).
    Case("spam_knn_distance", lambda: make_pipeline(_tfidf(), KNeighborsClassifier(n_neighbors=7, weights="distance")), "spam"),
    Case("sent_knn_svd_brute", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                     KNeighborsClassifier(n_neighbors=9, algorithm="brute")), "sentiment"),
    Case("sent_knn_svd_kdtree_distance", lambda: make_pipeline(_tfidf(), TruncatedSVD(20, random_state=0),
                                                               KNeighborsClassifier(weights="distance", algorithm="kd_tree")),
         "sentiment"),
    Case("spam_centroid", lambda: make_pipeline(_tfidf(), NearestCentroid()), "spam"),
    Case("sent_centroid_priors_int", lambda: make_pipeline(_tfidf(), NearestCentroid(priors="empirical")), "sentiment", "int"),
    Case("sent_centroid_manhattan_svd", lambda: make_pipeline(_tfidf(), TruncatedSVD(30, random_state=0),
                                                              NearestCentroid(metric="manhattan")), "sentiment"),
]

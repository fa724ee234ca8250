"""Write the old-release fixtures for the Go sklearn reader.

    python3 python/make_release_fixtures.py            # all releases (creates venvs under /tmp)
    python3 python/make_release_fixtures.py 1.3.2      # one release
    MLSERVE_REL_CASES=ridge,ridge_binary python3 python/make_release_fixtures.py   # some cases only

For each release a venv /tmp/mlserve-rel-<version> is created with pip (pins below, wheels
only, on this machine's python3), and this same file is run inside it with --worker. The
worker trains a few small models on the sentiment data set with THAT release, saves each as
<case>.joblib and <case>.pkl, and writes <case>.expected.json with the predictions THAT
release computes on ~60 fixed texts, into
internal/model/sklearn/testdata/releases/<sklearn-version>/ (see the README.md there).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "internal" / "model" / "sklearn" / "testdata" / "releases"

# folder -> pip requirements (numpy/scipy/joblib pinned to what that release shipped with; a
# "-numpy1"/"-numpy2" folder holds the same release with the other numpy major it supports).
# The folder name starts with the scikit-learn version the worker checks it runs.
RELEASES = {
    "1.0.2": ["scikit-learn==1.0.2", "numpy==1.21.6", "scipy==1.7.3", "joblib==1.1.0", "threadpoolctl==3.0.0"],
    "1.1.3": ["scikit-learn==1.1.3", "numpy==1.23.5", "scipy==1.9.3", "joblib==1.2.0", "threadpoolctl==3.1.0"],
    "1.2.2": ["scikit-learn==1.2.2", "numpy==1.24.4", "scipy==1.10.1", "joblib==1.2.0", "threadpoolctl==3.1.0"],
    "1.3.2": ["scikit-learn==1.3.2", "numpy==1.25.2", "scipy==1.11.4", "joblib==1.3.2", "threadpoolctl==3.2.0"],
    "1.4.2": ["scikit-learn==1.4.2", "numpy==1.26.4", "scipy==1.12.0", "joblib==1.3.2", "threadpoolctl==3.4.0"],
    "1.4.2-numpy2": ["scikit-learn==1.4.2", "numpy==2.0.2", "scipy==1.13.1", "joblib==1.4.0", "threadpoolctl==3.4.0"],
    "1.5.2": ["scikit-learn==1.5.2", "numpy==2.0.2", "scipy==1.14.1", "joblib==1.4.2", "threadpoolctl==3.5.0"],
    "1.5.2-numpy1": ["scikit-learn==1.5.2", "numpy==1.26.4", "scipy==1.13.1", "joblib==1.4.2", "threadpoolctl==3.5.0"],
    "1.6.1": ["scikit-learn==1.6.1", "numpy==2.2.2", "scipy==1.15.1", "joblib==1.4.2", "threadpoolctl==3.5.0"],
    "1.6.1-numpy1": ["scikit-learn==1.6.1", "numpy==1.26.4", "scipy==1.15.1", "joblib==1.4.2", "threadpoolctl==3.5.0"],
    "1.7.2": ["scikit-learn==1.7.2", "numpy==2.3.3", "scipy==1.16.2", "joblib==1.5.2", "threadpoolctl==3.6.0"],
    "1.7.2-numpy1": ["scikit-learn==1.7.2", "numpy==1.26.4", "scipy==1.15.3", "joblib==1.5.2", "threadpoolctl==3.6.0"],
    "1.8.0": ["scikit-learn==1.8.0", "numpy==2.3.5", "scipy==1.16.3", "joblib==1.5.2", "threadpoolctl==3.6.0"],
    "1.8.0-numpy1": ["scikit-learn==1.8.0", "numpy==1.26.4", "scipy==1.16.3", "joblib==1.5.2", "threadpoolctl==3.6.0"],
    "1.9.1": ["-r", str(ROOT / "python" / "requirements.txt")],
}

# scikit-learn 1.0 has no wheels for Python 3.11 (this machine's python3): its venv is made with 3.10
# (with pyenv: PYENV_VERSION=3.11.7:3.10.13 python3 python/make_release_fixtures.py).
PYTHONS = {"1.0.2": os.environ.get("MLSERVE_PY310", "python3.10")}


def ensure_venv(version: str) -> Path:
    venv = Path(f"/tmp/mlserve-rel-{version}")
    py = venv / "bin" / "python"
    stamp = venv / ".reqs"
    want = " ".join(RELEASES[version])
    if not (py.exists() and stamp.exists() and stamp.read_text() == want):
        base = PYTHONS.get(version, sys.executable)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--only-binary=:all:", *RELEASES[version]], check=True)
        stamp.write_text(want)
    return py


# ---------------------------------------------------------------- worker (runs inside a release venv)

def _texts():
    sys.path.insert(0, str(ROOT / "python"))
    from mlserve_data import sentiment, spam
    hard = json.loads((ROOT / "python" / "tests" / "hard_texts.json").read_text())
    rows = sentiment.load()
    held = [t for t, _ in rows if spam.is_held_out(t)][:32]
    return rows, hard + held


def _cases(sk_version):
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer, CountVectorizer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    major_minor = tuple(int(x) for x in sk_version.split(".")[:2])

    def tfidf(**kw):
        kw.setdefault("max_features", 200)
        return TfidfVectorizer(**kw)

    def sgd(loss):
        return SGDClassifier(loss=loss, random_state=0, max_iter=30, tol=None)

    cases = {
        # name: (factory, binary?)
        "tfidf_lr_binary": (lambda: make_pipeline(tfidf(max_features=150), LogisticRegression(C=10)), True),
        "tfidf_lr_multinomial": (lambda: make_pipeline(tfidf(), LogisticRegression(C=10, max_iter=1000)), False),
        "sgd_log": (lambda: make_pipeline(tfidf(sublinear_tf=True), sgd("log_loss" if major_minor >= (1, 1) else "log")), False),
        "sgd_modified_huber_binary": (lambda: make_pipeline(tfidf(), sgd("modified_huber")), True),
        "multinomial_nb": (lambda: make_pipeline(CountVectorizer(max_features=200), MultinomialNB()), False),
        "linear_svc": (lambda: make_pipeline(tfidf(analyzer="char_wb", ngram_range=(2, 3)), LinearSVC()), False),
        "calibrated_sigmoid_binary": (lambda: make_pipeline(
            tfidf(), CalibratedClassifierCV(LinearSVC(), method="sigmoid", cv=3)), True),
        "hashing_tfidf_sgd_hinge": (lambda: make_pipeline(
            HashingVectorizer(n_features=2 ** 8), TfidfTransformer(), sgd("hinge")), False),
        "feature_union_lr": (lambda: make_pipeline(FeatureUnion([
            ("word", tfidf(max_features=150)),
            ("char", tfidf(analyzer="char", ngram_range=(1, 2), max_features=100))]),
            LogisticRegression(max_iter=1000)), False),
    }
    cases.update(_cases_inert(major_minor, tfidf))
    cases.update(__import__("release_cases_models").cases(major_minor, tfidf))  # sk-release (issue 16)
    if major_minor < (1, 8):  # multi_class was removed in 1.8
        cases["tfidf_lr_ovr"] = (lambda: make_pipeline(
            tfidf(), LogisticRegression(multi_class="ovr", max_iter=1000)), False)
    return cases


def _cases_inert(major_minor, tfidf):
    """sk-inert's cases (issue 16): saved searches with their inert parts, RidgeClassifier (classes in
    _label_binarizer up to 1.2), feature selection and scaling, calibration variants."""
    import numpy as np
    from joblib import Memory
    from scipy.stats import loguniform, randint, uniform
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, RidgeClassifier
    from sklearn.metrics import fbeta_score, make_scorer, matthews_corrcoef
    from sklearn.model_selection import (GridSearchCV, KFold, RandomizedSearchCV, RepeatedStratifiedKFold,
                                         StratifiedShuffleSplit)
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.svm import LinearSVC

    def lr(**kw):
        return LogisticRegression(max_iter=1000, **kw)

    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import CountVectorizer
    try:
        from sklearn.frozen import FrozenEstimator  # 1.6+: replaces cv="prefit"
    except ImportError:
        FrozenEstimator = None

    def calibrated_prefit():
        pipe = make_pipeline(tfidf(), LinearSVC())
        if FrozenEstimator is not None:
            return CalibratedClassifierCV(FrozenEstimator(pipe), method="sigmoid")
        return CalibratedClassifierCV(pipe, method="sigmoid", cv="prefit")

    def prefit(model, x, y):  # fits the pipeline a prefit/frozen calibration wraps
        est = model.estimator if hasattr(model, "estimator") else model.base_estimator
        (est.estimator if FrozenEstimator is not None else est).fit(x, y)

    calibrated_prefit.prefit = prefit
    ensemble_kw = {} if major_minor < (1, 2) else {"ensemble": False}

    extra = {}
    if major_minor >= (1, 8):  # method="temperature" is new in 1.8
        from sklearn.naive_bayes import MultinomialNB
        extra = {
            "calibrated_temperature_svc": (lambda: make_pipeline(
                tfidf(), CalibratedClassifierCV(LinearSVC(), method="temperature", cv=3)), False),
            "calibrated_temperature_mnb_binary": (lambda: make_pipeline(
                tfidf(), CalibratedClassifierCV(MultinomialNB(), method="temperature", cv=3)), True),
        }

    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_selection import (GenericUnivariateSelect, SelectKBest, SelectPercentile,
                                           VarianceThreshold, chi2, f_classif)
    from sklearn.linear_model import SGDClassifier
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler
    extra |= {
        "select_kbest_chi2_lr": (lambda: make_pipeline(tfidf(), SelectKBest(chi2, k=60), lr(C=10)), False),
        "select_percentile_f_classif_mnb": (lambda: make_pipeline(
            CountVectorizer(max_features=200), SelectPercentile(f_classif, percentile=30), MultinomialNB()), False),
        "generic_univariate_kbest_binary": (lambda: make_pipeline(
            tfidf(), GenericUnivariateSelect(chi2, mode="k_best", param=50), lr()), True),
        "variance_maxabs_sgd": (lambda: make_pipeline(
            CountVectorizer(max_features=200), VarianceThreshold(0.01), MaxAbsScaler(),
            SGDClassifier(loss="log_loss" if major_minor >= (1, 1) else "log", random_state=0, max_iter=30, tol=None)), False),
        "svd_minmax_clip_lr": (lambda: make_pipeline(
            tfidf(), TruncatedSVD(20, random_state=0), MinMaxScaler(clip=True), lr()), False),
    }

    return extra | {
        "calibrated_prefit_pipeline": (calibrated_prefit, False),
        "calibrated_pipeline_cv3_isotonic": (lambda: CalibratedClassifierCV(
            make_pipeline(tfidf(), lr()), method="isotonic", cv=3), False),
        "calibrated_pipeline_no_ensemble_binary": (lambda: CalibratedClassifierCV(
            make_pipeline(tfidf(), LinearSVC()), method="sigmoid", cv=3, **ensemble_kw), True),
        "search_randomized_binary": (lambda: RandomizedSearchCV(
            Pipeline([("vec", tfidf()), ("clf", lr())], memory=Memory(location=None, verbose=0)),
            {"clf__C": loguniform(1e-1, 1e2), "vec__min_df": randint(1, 3), "vec__max_df": uniform(0.8, 0.2)},
            n_iter=3, cv=StratifiedShuffleSplit(n_splits=2, test_size=0.3, random_state=0),
            scoring=make_scorer(matthews_corrcoef), random_state=0), True),
        "search_grid_candidates": (lambda: GridSearchCV(
            Pipeline([("vec", tfidf()), ("clf", lr())]),
            [{"clf": [lr(C=10)]}, {"clf": [RandomForestClassifier(n_estimators=1, max_depth=1, random_state=0)]}],
            cv=RepeatedStratifiedKFold(n_splits=2, n_repeats=1, random_state=0),
            scoring={"f2": make_scorer(fbeta_score, beta=2, average="macro"), "acc": "accuracy"}, refit="f2"), False),
        "search_as_step": (lambda: make_pipeline(tfidf(), GridSearchCV(
            lr(), {"C": [1.0, 10.0]}, cv=KFold(3, shuffle=True, random_state=0), scoring="f1_macro")), False),
        "ridge": (lambda: make_pipeline(tfidf(), RidgeClassifier()), False),
        # token_pattern RE2 cannot match (pyre): (?i), \b around a class, a lookahead, a group
        "token_pattern_python_re": (lambda: make_pipeline(
            tfidf(token_pattern=r"(?i)\b([a-z][a-z']+)\b(?![-'])", lowercase=False), lr(C=10)), False),
        # dtype=np.float32: TF-IDF rounded as numpy rounds it; LinearSVC keeps float64 coef_,
        # RidgeClassifier fitted on float32 keeps float32 coef_ and decides in float32
        "tfidf_float32_linear_svc": (lambda: make_pipeline(
            tfidf(dtype=np.float32, sublinear_tf=True), LinearSVC()), False),
        "tfidf_float32_ridge": (lambda: make_pipeline(tfidf(dtype=np.float32), RidgeClassifier()), False),
        "ridge_binary": (lambda: make_pipeline(tfidf(), RidgeClassifier(alpha=0.5)), True),
    }


def _drop_stop_words_(model):
    """Remove the fitted stop_words_ (the terms cut by max_features; present until sklearn 1.6),
    as sklearn's docs allow before pickling, to keep the fixtures small. tfidf_lr_binary keeps it."""
    from sklearn.pipeline import FeatureUnion, Pipeline
    todo = [model]
    while todo:
        m = todo.pop()
        if isinstance(m, Pipeline):
            todo.extend(s for _, s in m.steps)
        elif isinstance(m, FeatureUnion):
            todo.extend(s for _, s in m.transformer_list)
        elif hasattr(m, "best_estimator_"):
            todo.append(m.best_estimator_)
        elif hasattr(m, "stop_words_"):
            try:
                delattr(m, "stop_words_")
            except AttributeError:
                pass


def worker():
    import joblib
    import numpy as np
    import scipy
    import sklearn

    rows, texts = _texts()
    folder = os.environ.get("MLSERVE_REL_FOLDER", sklearn.__version__)
    if folder.split("-")[0] != sklearn.__version__:
        raise SystemExit(f"folder {folder} is not scikit-learn {sklearn.__version__}")
    out = OUT / folder
    out.mkdir(parents=True, exist_ok=True)
    versions = {"python": sys.version.split()[0], "scikit-learn": sklearn.__version__,
                "numpy": np.__version__, "scipy": scipy.__version__, "joblib": joblib.__version__}
    only = set(filter(None, os.environ.get("MLSERVE_REL_CASES", "").split(",")))  # e.g. regenerate new cases only
    for name, (make, binary) in _cases(sklearn.__version__).items():
        if only and name not in only:
            continue
        data = [(t, y) for t, y in rows if not binary or y != "neutral"][::getattr(make, "every", 1)]
        x = [t for t, _ in data]
        y = np.asarray([y for _, y in data])  # an array: 1.1.3's CalibratedClassifierCV miscounts a list
        model = make()
        if hasattr(make, "prefit"):
            make.prefit(model, x, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x, y)
        if name != "tfidf_lr_binary":
            _drop_stop_words_(model)
        joblib.dump(model, out / f"{name}.joblib")
        with open(out / f"{name}.pkl", "wb") as fh:
            pickle.dump(model, fh, protocol=pickle.DEFAULT_PROTOCOL)
        classes = list(model.classes_)
        pred = model.predict(texts)
        proba = model.predict_proba(texts).tolist() if hasattr(model, "predict_proba") else None
        dec = model.decision_function(texts) if hasattr(model, "decision_function") else None
        if dec is not None:
            dec = [[v] for v in dec.tolist()] if dec.ndim == 1 else dec.tolist()
        expected = {
            "info": {"case": name, "library_versions": versions, "pickle_protocol": pickle.DEFAULT_PROTOCOL},
            "texts": texts,
            "labels": [str(c) for c in classes],
            "predictions": [{
                "label": str(p),
                "index": classes.index(p),
                "probabilities": proba[i] if proba is not None else None,
                "decision": dec[i] if dec is not None else None,
            } for i, p in enumerate(pred)],
        }
        (out / f"{name}.expected.json").write_text(json.dumps(expected, ensure_ascii=True) + "\n")
    print(f"{folder}: wrote {out}")


def main(argv):
    if argv[:1] == ["--worker"]:
        worker()
        return
    for version in argv or list(RELEASES):
        py = ensure_venv(version)
        subprocess.run([str(py), __file__, "--worker"], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONHASHSEED": "0", "MLSERVE_REL_FOLDER": version})


if __name__ == "__main__":
    main(sys.argv[1:])

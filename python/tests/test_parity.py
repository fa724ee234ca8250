"""Parity: mlserve's Go reader (cmd/sklearn-predict) against real scikit-learn.

Each case of cases.CASES is trained here with the pinned scikit-learn, saved in two of the
cases.WAYS, and predicted on ~490 texts by both sides. Labels must be identical; probabilities
and decision values agree within 1e-9 absolute; the Go side returns null where sklearn has no
such method.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import warnings

import numpy as np
import pytest

from cases import CASES, N_SPAM_TRAIN, WAYS, labels_as, ways_for

TOL = 1e-9

PARAMS = [pytest.param(case, way, id=f"{case.name}-{way}",
                       marks=[pytest.mark.xfail(reason=case.known_gap, strict=True)] if case.known_gap else [])
          for i, case in enumerate(CASES) for way in ways_for(i)]

_trained: dict[str, object] = {}
_expected: dict[str, tuple] = {}


@pytest.fixture(scope="session")
def texts_file(texts, tmp_path_factory):
    p = tmp_path_factory.mktemp("texts") / "texts.json"
    p.write_text(json.dumps(texts))
    return p


def trained(case, spam_split, sentiment_split):
    if case.name not in _trained:
        if case.data == "spam":
            # a hash-ordered subset, so both classes are in it whatever the file order
            order = sorted(range(len(spam_split[0])),
                           key=lambda i: hashlib.sha256(spam_split[0][i].encode()).hexdigest())[:case.n_train or N_SPAM_TRAIN]
            x, y = [spam_split[0][i] for i in order], [spam_split[1][i] for i in order]
        else:
            x, y = sentiment_split[0], sentiment_split[1]
        model = case.make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x, labels_as(y, case.labels))
        _trained[case.name] = model
    return _trained[case.name]


def run_go(binary, model_path, texts_path):
    proc = subprocess.run([binary, "-model", str(model_path), "-texts", str(texts_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"sklearn-predict failed ({proc.returncode}): {proc.stderr.strip()}"
    return json.loads(proc.stdout)


def expected(model, texts):
    """What scikit-learn says, in the contract's shape."""
    pred = model.predict(texts)
    proba = model.predict_proba(texts) if hasattr(model, "predict_proba") else None
    dec = model.decision_function(texts) if hasattr(model, "decision_function") else None
    if dec is not None and dec.ndim == 1:
        dec = dec[:, None]
    return pred, proba, dec


def _close(name, got, want, texts):
    got = np.asarray(got, dtype=float)
    assert got.shape == want.shape, f"{name}: shape {got.shape}, want {want.shape}"
    diff = np.abs(got - want)
    if diff.max() > TOL:
        i = int(diff.max(axis=1).argmax())
        pytest.fail(f"{name} differs by {diff.max():.3g} (> {TOL}) on text {i} {texts[i][:80]!r}: "
                    f"got {got[i].tolist()}, want {want[i].tolist()}")


@pytest.mark.parametrize("case,way", PARAMS)
def test_parity(case, way, tmp_path, texts, texts_file, sklearn_predict, spam_split, sentiment_split):
    model = trained(case, spam_split, sentiment_split)
    suffix, save = WAYS[way]
    path = tmp_path / f"{case.name}{suffix}"
    save(model, path)

    out = run_go(sklearn_predict, path, texts_file)
    if case.name not in _expected:
        _expected[case.name] = expected(model, texts)
    pred, proba, dec = _expected[case.name]

    assert out["labels"] == [str(c) for c in model.classes_]
    preds = out["predictions"]
    assert len(preds) == len(texts)

    got_labels = [p["label"] for p in preds]
    want_labels = [str(c) for c in pred]
    bad = [i for i, (g, w) in enumerate(zip(got_labels, want_labels)) if g != w]
    assert not bad, (f"{len(bad)} labels differ, first text {bad[0]} {texts[bad[0]][:80]!r}: "
                     f"got {got_labels[bad[0]]!r}, want {want_labels[bad[0]]!r}")
    want_index = [int(np.flatnonzero(model.classes_ == c)[0]) for c in pred]
    assert [p["index"] for p in preds] == want_index

    got_proba = [p["probabilities"] for p in preds]
    if proba is None:
        assert all(g is None for g in got_proba), "probabilities given for a model without predict_proba"
    else:
        assert all(g is not None for g in got_proba), "probabilities missing"
        _close("probabilities", got_proba, proba, texts)

    got_dec = [p["decision"] for p in preds]
    if dec is None:
        assert all(g is None for g in got_dec), "decision given for a model without decision_function"
    else:
        assert all(isinstance(g, list) for g in got_dec), "decision must be a list"
        _close("decision", got_dec, dec, texts)


def test_unloadable_model_exits_1(tmp_path, texts_file, sklearn_predict):
    """A file that is not a model: exit status 1 and a message on stderr."""
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"this is not a pickle")
    proc = subprocess.run([sklearn_predict, "-model", str(bad), "-texts", str(texts_file)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip()


def test_every_way_is_used_twice():
    counts = {w: 0 for w in WAYS}
    for i, _ in enumerate(CASES):
        for w in ways_for(i):
            counts[w] += 1
    assert min(counts.values()) >= 2, counts

"""The committed sample repository (models/): manifests follow the schema, and the Go reader
serves each artifact exactly as scikit-learn does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import joblib
import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# The scikit-learn versions; test_onnx_parity.py checks the ONNX ones.
SAMPLES = sorted(p.parent for p in (REPO / "models").glob("*/v*/model.yaml")
                 if yaml.safe_load(p.read_text())["framework"] == "sklearn")
KEYS = ["framework", "artifact", "description", "accuracy", "training_date", "features", "labels",
        "library_versions", "preprocessing", "warmup", "reference", "golden"]


def test_samples_exist():
    names = {f"{p.parent.name}/{p.name}" for p in SAMPLES}
    assert {"sentiment/v1", "sentiment/v2", "spam/v1"} <= names


@pytest.mark.parametrize("folder", SAMPLES, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_manifest(folder):
    m = yaml.safe_load((folder / "model.yaml").read_text())
    assert list(m) == KEYS
    assert m["framework"] == "sklearn" and (folder / m["artifact"]).is_file()
    model = joblib.load(folder / m["artifact"])
    assert m["labels"] == [str(c) for c in model.classes_]
    ref = m["reference"]
    assert sum(ref["label_distribution"].values()) == pytest.approx(1, abs=1e-5)
    for k in ("confidence", "text_length", "oov_rate"):
        assert len(ref[k]["fractions"]) == len(ref[k]["edges"]) - 1
        assert sum(ref[k]["fractions"]) == pytest.approx(1, abs=1e-5)
    assert (folder / m["artifact"]).stat().st_size < 2_500_000


@pytest.mark.parametrize("folder", SAMPLES, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_go_matches_sklearn(folder, sklearn_predict, hard_texts, sentiment_split, tmp_path):
    m = yaml.safe_load((folder / "model.yaml").read_text())
    texts = list(hard_texts) + list(m["warmup"]) + list(sentiment_split[2])
    (tmp_path / "t.json").write_text(json.dumps(texts))
    proc = subprocess.run([sklearn_predict, "-model", str(folder / m["artifact"]), "-texts",
                           str(tmp_path / "t.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    model = joblib.load(folder / m["artifact"])
    assert [p["label"] for p in out["predictions"]] == [str(c) for c in model.predict(texts)]
    got = np.array([p["probabilities"] for p in out["predictions"]], dtype=float)
    assert np.abs(got - model.predict_proba(texts)).max() <= 1e-9


@pytest.mark.parametrize("folder", SAMPLES, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_golden_is_sklearns_output(folder):
    """The parity certificate (golden:) holds what scikit-learn itself predicts for its texts."""
    import sys

    sys.path.insert(0, str(REPO / "python"))
    from mlserve_certify import certify

    m = yaml.safe_load((folder / "model.yaml").read_text())
    golden = m["golden"]
    assert len(golden["texts"]) >= 20 and golden["tolerance"] == 1e-6
    model = joblib.load(folder / m["artifact"])
    again = certify(model, [t["text"] for t in golden["texts"]])
    for want, got in zip(golden["texts"], again["texts"]):
        assert got["label"] == want["label"], want["text"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-12), want["text"]

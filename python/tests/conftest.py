"""Fixtures for the scikit-learn parity suite: data, texts, the Go sklearn-predict binary.

Run from the repo root: `.venv/bin/pytest -q python/tests` (after scripts/setup-python.sh and
scripts/fetch-data.sh; `make test-python` does all three).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
sys.path.insert(0, str(PYTHON_DIR))

from mlserve_data import sentiment, spam  # noqa: E402

N_SPAM_TEXTS = 400


@pytest.fixture(scope="session")
def spam_split():
    """(train_texts, train_labels, heldout_texts, heldout_labels) of SpamAssassin; fails if not fetched."""
    try:
        return spam.load_split()
    except spam.MissingData as e:
        pytest.fail(f"{e}\n(the parity suite needs real data: run `bash scripts/fetch-data.sh` from {REPO})",
                    pytrace=False)


@pytest.fixture(scope="session")
def sentiment_split():
    return sentiment.load_split()


@pytest.fixture(scope="session")
def hard_texts():
    return json.loads((Path(__file__).parent / "hard_texts.json").read_text())


@pytest.fixture(scope="session")
def texts(spam_split, sentiment_split, hard_texts):
    """Texts every model is checked on: 400 held-out emails (a hash-ordered mix of ham and spam),
    the held-out sentiment reviews and the hand-written hard set."""
    held = sorted(spam_split[2], key=lambda t: hashlib.sha256(t.encode()).hexdigest())[:N_SPAM_TEXTS]
    return held + list(sentiment_split[2]) + list(hard_texts)


@pytest.fixture(scope="session")
def go_tool(tmp_path_factory):
    """go_tool(name, env) -> path to cmd/<name>, built once per call site's session fixture (the
    environment variable env names a prebuilt one instead). A build failure fails the tests: the
    Go side must exist for parity to hold."""
    def build(name: str, env: str) -> str:
        override = os.environ.get(env)
        if override:
            return override
        out = tmp_path_factory.mktemp("bin") / name
        proc = subprocess.run(["go", "build", "-o", str(out), f"./cmd/{name}"], cwd=REPO,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"go build ./cmd/{name} failed:\n{proc.stderr}", pytrace=False)
        return str(out)
    return build


@pytest.fixture(scope="session")
def sklearn_predict(go_tool):
    """Path to cmd/sklearn-predict (MLSERVE_SKLEARN_PREDICT overrides)."""
    return go_tool("sklearn-predict", "MLSERVE_SKLEARN_PREDICT")

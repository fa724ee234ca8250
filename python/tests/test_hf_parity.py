"""Parity of mlserve's Hugging Face folder loader with `tokenizers`, onnxruntime-python and PyTorch, through
the Go CLI cmd/onnx-predict, on the three optimum-exported sample classifiers python/train_hf.py wrote
(internal/model/onnx/testdata/hf/<name>: model.onnx, config.json, tokenizer.json, tokenizer_config.json,
special_tokens_map.json, and no model.yaml):

  roberta-sentiment  byte-level BPE + RobertaProcessing, softmax
  xlmr-sentiment     Unigram + NFKC/Metaspace + TemplateProcessing, softmax
  roberta-topics     byte-level BPE, multi-label (sigmoid per label)

Checked on the recorded texts (held-out reviews, the hard set, the trainer's edge texts) and the ONNX suite's
edge texts: ids identical to `tokenizers` run live here (this venv's pinned version, not the one that trained)
and to the ids recorded at training; probabilities within 1e-5 of PyTorch's recorded ones and of
onnxruntime-python run live on the live ids. Nothing is skipped: a missing ONNX Runtime fails the suite.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_onnx_parity import EDGE_TEXTS, onnx_library, onnx_predict, run_predict  # noqa: E402,F401 (fixtures)

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
HF = REPO / "internal" / "model" / "onnx" / "testdata" / "hf"
FIXTURES = PYTHON_DIR / "fixtures" / "onnx"
TOL = 1e-5
SAMPLES = ["roberta-sentiment", "xlmr-sentiment", "roberta-topics"]
OPTIMUM_FILES = {"model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"hf-{name}.json").read_text())


def _live_ids(name: str, texts: list[str]) -> list[list[int]]:
    """`tokenizers` on the folder's tokenizer.json, as transformers' fast tokenizer calls it (truncation
    from the file, special tokens added)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(HF / name / "tokenizer.json"))
    return [e.ids for e in tok.encode_batch(texts)]


def _activate(logits: np.ndarray, sigmoid: bool) -> np.ndarray:
    logits = logits.astype(np.float64)
    if sigmoid:
        return 1 / (1 + np.exp(-logits))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module", params=SAMPLES)
def sample(request, run_predict):  # noqa: F811 (the imported fixture)
    name = request.param
    fx = _fixture(name)
    texts = fx["texts"] + EDGE_TEXTS
    return name, fx, texts, run_predict(HF / name, texts, "-tokens")


def test_folder_is_an_optimum_export(sample):
    """The folder holds optimum's files and nothing else (no model.yaml), its config.json's id2label is the
    recorded label order, and it stays small."""
    name, fx, _, go = sample
    folder = HF / name
    assert {p.name for p in folder.iterdir()} == OPTIMUM_FILES
    cfg = json.loads((folder / "config.json").read_text())
    assert [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))] == fx["labels"] == go["labels"]
    assert cfg["problem_type"] == ("multi_label_classification" if fx["activation"] == "sigmoid"
                                   else "single_label_classification")
    assert sum(p.stat().st_size for p in folder.iterdir()) < 1_500_000


def test_ids_match_tokenizers(sample):
    """mlserve's ids (tokenizer.json through internal/tokenizer) are `tokenizers`' ids, live and recorded."""
    name, fx, texts, go = sample
    got = [t["ids"] for t in go["tokens"]]
    live = _live_ids(name, texts)
    bad = [i for i in range(len(texts)) if got[i] != live[i]]
    assert not bad, f"{len(bad)} texts differ; first {texts[bad[0]][:60]!r}: {got[bad[0]]} vs {live[bad[0]]}"
    n = len(fx["texts"])
    assert got[:n] == fx["ids"], "ids differ from those recorded at training"
    assert max(len(t["ids"]) for t in go["tokens"]) == fx["max_length"]  # the long edge texts are truncated
    assert all(t["mask"] == [1] * len(t["ids"]) for t in go["tokens"])


def test_probabilities_match_pytorch(sample):
    """mlserve's probabilities are PyTorch's (eval mode, float32, recorded at training) within 1e-5, and its
    label the most probable one."""
    _, fx, texts, go = sample
    n = len(fx["texts"])
    got = np.array([p["probabilities"] for p in go["predictions"]][:n])
    want = np.array(fx["probabilities"])
    diff = np.abs(got - want)
    i = int(diff.max(axis=1).argmax())
    assert diff.max() <= TOL, f"max |diff| {diff.max():.3g} at text {i}: {texts[i][:80]!r}"
    assert [p["label"] for p in go["predictions"][:n]] == [fx["labels"][j] for j in want.argmax(axis=1)]


def test_probabilities_match_onnxruntime_python(sample):
    """On every text, the edge texts too: onnxruntime-python on the live `tokenizers` ids, one text per run,
    with the activation config.json's problem_type names."""
    import onnxruntime as ort

    name, fx, texts, go = sample
    sess = ort.InferenceSession(str(HF / name / "model.onnx"), providers=["CPUExecutionProvider"])
    want = []
    for ids in _live_ids(name, texts):
        x = np.array([ids], dtype=np.int64)
        logits = sess.run(["logits"], {"input_ids": x, "attention_mask": np.ones_like(x)})[0]
        want.append(_activate(logits, fx["activation"] == "sigmoid")[0])
    got = np.array([p["probabilities"] for p in go["predictions"]])
    diff = np.abs(got - np.array(want))
    i = int(diff.max(axis=1).argmax())
    assert diff.max() <= TOL, f"max |diff| {diff.max():.3g} at text {i}: {texts[i][:80]!r}"

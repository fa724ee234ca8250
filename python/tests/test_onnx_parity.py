"""Parity of mlserve's ONNX backend with PyTorch, ONNX Runtime (Python), Hugging Face tokenizers and
scikit-learn, through the Go CLI cmd/onnx-predict, on the two ONNX sample models:

  models/spam/v2       probabilities vs PyTorch's own (recorded by python/train_torch.py, PyTorch is not
                       installed here) and vs onnxruntime-python run live on ids tokenized live in Python;
                       the ids themselves vs Python's regex tokenizer.
  models/sentiment/v3  WordPiece ids vs Hugging Face tokenizers live (the model's tokenizer.json);
                       pooled, normalised embeddings vs onnxruntime-python live; probabilities vs
                       scikit-learn's predict_proba on those live embeddings.

Tolerance 1e-5 (absolute) on every float; labels and ids must be identical. Nothing is skipped: a
missing ONNX Runtime library, a missing encoder file or a CLI that does not build fails the suite,
with the command that fixes it (`make test-python` runs scripts/setup-onnxruntime.sh and
scripts/fetch-models.sh first).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
sys.path.insert(0, str(PYTHON_DIR))

import train_torch  # noqa: E402  (its PyTorch import is lazy; only the tokenizer helpers are used)
import train_two_stage  # noqa: E402

TOL = 1e-5
SPAM = REPO / "models" / "spam" / "v2"
SENT = REPO / "models" / "sentiment" / "v3"
FIXTURES = PYTHON_DIR / "fixtures" / "onnx"
# scripts/fetch-models.sh (int8 encoder: the graph, and its word-embedding table as external data)
ENCODER_SHA256 = "fb7b7146fc2fe315717a5f853cf83387bbf75b42f588c542ae613ed48aabef39"
ENCODER_DATA_SHA256 = "317e67f21b3944236e7b1212cbd2bf3f295be96916e630acbd2e060febb3b3e2"

# Beyond the held-out and hard texts: what WordPiece and the regex tokenizer get wrong most easily.
EDGE_TEXTS = [
    "[CLS] hello [SEP] world [MASK] [PAD] [UNK]",        # special tokens in the raw text (HF matches them)
    "[cls] lower-case [mask] is plain text",
    "x" * 101 + " " + "y" * 100,                          # longer than max_input_chars_per_word (100) -> [UNK]
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Ünïcödé ÀÉÎÕÜ façade naïve Å Ω ß straße ǅungla",
    "日本語のテキスト and 中文字符 한국어",
    "don't stop-believing... 3.14 $100 #tag @user e-mail: a.b@c.de",
    "ctrl\x00\x01\x07chars \ufffd replacement \u200b zero\u200dwidth \u00ad soft",
    "ﬁnancial ﬂow ① ² ｆｕｌｌ",
    "emoji 😀👍🏽 🇩🇪 test",
    "A\u0301 e\u0300 combining marks",
    "tabs\tand\nnew\r\nlines\u2028and\u00a0nbsp",
    " ".join(["word"] * 300),                             # longer than max_length after tokenization
    " ".join(f"tok{i}" for i in range(400)),
]


# ---- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def onnx_library():
    """The ONNX Runtime shared library the Go side loads; fails (not skips) when it is missing."""
    env = os.environ.get("MLSERVE_ONNX_LIBRARY_PATH")
    path = Path(env) if env else REPO / ".cache" / "onnxruntime" / "libonnxruntime.so"
    if not path.is_file():
        pytest.fail(f"ONNX Runtime library not found at {path}: run `sh scripts/setup-onnxruntime.sh` "
                    f"from {REPO} (or set MLSERVE_ONNX_LIBRARY_PATH)", pytrace=False)
    return str(path)


@pytest.fixture(scope="session")
def encoder_file():
    """models/sentiment/v3/encoder.onnx and its external data encoder.onnx.data, the files
    scripts/fetch-models.sh installs, with their sha256s."""
    path = train_two_stage.ENCODER
    for p, want in ((path, ENCODER_SHA256), (path.with_name(path.name + ".data"), ENCODER_DATA_SHA256)):
        if not p.is_file():
            pytest.fail(f"{p} is missing: run `sh scripts/fetch-models.sh` from {REPO}", pytrace=False)
        got = hashlib.sha256(p.read_bytes()).hexdigest()
        if got != want:
            pytest.fail(f"{p} has sha256 {got}, want {want}: rerun scripts/fetch-models.sh", pytrace=False)
    return path


@pytest.fixture(scope="session")
def onnx_predict(go_tool, onnx_library):
    """Path to cmd/onnx-predict (MLSERVE_ONNX_PREDICT overrides)."""
    return go_tool("onnx-predict", "MLSERVE_ONNX_PREDICT")


@pytest.fixture(scope="session")
def run_predict(onnx_predict, onnx_library, tmp_path_factory):
    """run_predict(model_dir, texts, *flags) -> the CLI's decoded JSON output."""
    def run(model_dir: Path, texts: list[str], *flags: str) -> dict:
        f = tmp_path_factory.mktemp("texts") / "texts.json"
        f.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        env = dict(os.environ, MLSERVE_ONNX_LIBRARY_PATH=onnx_library)
        proc = subprocess.run([onnx_predict, "-model", str(model_dir), "-texts", str(f), *flags], cwd=REPO,
                              capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"onnx-predict -model {model_dir} {' '.join(flags)} exited {proc.returncode}:\n"
                        f"{proc.stderr[-4000:]}", pytrace=False)
        out = json.loads(proc.stdout)
        assert len(out["predictions"]) == len(texts)
        return out
    return run


@pytest.fixture(scope="session")
def spam_fixture():
    return json.loads((FIXTURES / "spam-v2-torch.json").read_text())


@pytest.fixture(scope="session")
def spam_vocab():
    return train_torch.read_vocab(SPAM / "vocab.txt")


@pytest.fixture(scope="session")
def spam_texts(spam_fixture):
    """The recorded texts (300 held-out emails + the hard set) and the edge cases."""
    return spam_fixture["texts"] + EDGE_TEXTS


@pytest.fixture(scope="session")
def spam_go(run_predict, spam_texts):
    return run_predict(SPAM, spam_texts, "-tokens")


@pytest.fixture(scope="session")
def spam_ort_python(spam_texts, spam_vocab):
    """onnxruntime-python's probabilities on ids tokenized live in Python, one text per run."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(SPAM / "model.onnx"), providers=["CPUExecutionProvider"])
    out = []
    for t in spam_texts:
        ids, mask = train_torch.pad_batch([train_torch.encode(t, spam_vocab)])
        logits = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0].astype(np.float64)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        out.append((p / p.sum(axis=1, keepdims=True))[0])
    return np.array(out)


@pytest.fixture(scope="session")
def sent_fixture():
    return json.loads((FIXTURES / "sentiment-v3-embeddings.json").read_text())


@pytest.fixture(scope="session")
def sent_texts(sent_fixture):
    """The recorded texts (held-out reviews + the hard set) and the edge cases."""
    return sent_fixture["texts"] + EDGE_TEXTS


@pytest.fixture(scope="session")
def hf_tokenizer():
    return train_two_stage.tokenizer(SENT / "tokenizer.json")


@pytest.fixture(scope="session")
def sent_ort_python(encoder_file, hf_tokenizer, sent_texts):
    """Pooled, normalised embeddings from onnxruntime-python on Hugging Face's ids, one text per run."""
    return train_two_stage.embed(train_two_stage.encoder(encoder_file, threads=2), hf_tokenizer, sent_texts,
                                 batch=1)


@pytest.fixture(scope="session")
def classifier():
    return joblib.load(SENT / "classifier.joblib")


@pytest.fixture(scope="session")
def sent_go(run_predict, encoder_file, sent_texts):
    return run_predict(SENT, sent_texts, "-tokens", "-embeddings")


def _probs(out: dict) -> np.ndarray:
    return np.array([p["probabilities"] for p in out["predictions"]], dtype=np.float64)


def _worst(diff: np.ndarray, texts: list[str]) -> str:
    i = int(np.unravel_index(np.argmax(diff), diff.shape)[0])
    return f"max |diff| {diff.max():.3g} at text {i}: {texts[i][:80]!r}"


# ---- both models: the committed folders ---------------------------------------------------------

ONNX_KEYS = ["framework", "artifact", "description", "accuracy", "training_date", "features", "labels",
             "library_versions", "preprocessing", "onnx", "warmup", "reference", "golden"]


@pytest.mark.parametrize("folder", [SPAM, SENT], ids=["spam-v2", "sentiment-v3"])
def test_onnx_sample_manifest(folder, encoder_file):
    """model.yaml has the repository's keys plus onnx:, a reference block whose histograms are complete,
    labels that match the model, and the committed files stay small (the encoder is fetched, not committed)."""
    import yaml

    m = yaml.safe_load((folder / "model.yaml").read_text())
    assert list(m) == ONNX_KEYS
    assert m["framework"] == "onnx" and (folder / m["artifact"]).is_file()
    if "classifier" in m["onnx"]:
        assert m["labels"] == [str(c) for c in joblib.load(folder / m["onnx"]["classifier"]).classes_]
    else:
        assert m["labels"] == train_torch.LABELS
    ref = m["reference"]
    assert sum(ref["label_distribution"].values()) == pytest.approx(1, abs=1e-5)
    for k in ("confidence", "text_length", "oov_rate"):
        assert len(ref[k]["fractions"]) == len(ref[k]["edges"]) - 1
        assert sum(ref[k]["fractions"]) == pytest.approx(1, abs=1e-5)
    committed = [p for p in folder.iterdir() if p.name not in ("encoder.onnx", "encoder.onnx.data")]
    assert sum(p.stat().st_size for p in committed) < 6_000_000


# ---- spam/v2 -----------------------------------------------------------------------------------

def test_spam_v2_manifest_declares_what_the_recording_used(spam_vocab):
    """model.yaml's tokenizer is the one python/train_torch.py trained with (what the other tests assume)."""
    import yaml

    m = yaml.safe_load((SPAM / "model.yaml").read_text())
    tok = m["onnx"]["tokenizer"]
    assert m["framework"] == "onnx" and m["labels"] == train_torch.LABELS
    assert (tok["type"], tok["pattern"], tok["lowercase"], tok["max_length"]) == \
        ("regex", train_torch.TOKEN_PATTERN, True, train_torch.MAX_LENGTH)
    assert spam_vocab[tok["pad_token"]] == 0 and spam_vocab[tok["unk_token"]] == 1
    assert len(spam_vocab) == train_torch.VOCAB_SIZE


def test_spam_v2_onnx_graph_matches_recorded_pytorch(spam_fixture, spam_ort_python):
    """The committed graph, run by onnxruntime-python, reproduces PyTorch's recorded probabilities."""
    n = len(spam_fixture["texts"])
    want = np.array(spam_fixture["probabilities"])
    diff = np.abs(spam_ort_python[:n] - want)
    assert diff.max() <= TOL, _worst(diff, spam_fixture["texts"])


def test_spam_v2_ids_match_python_tokenizer(spam_go, spam_texts, spam_vocab):
    """Go's regex tokenizer + vocabulary lookup + truncation gives Python's ids exactly."""
    toks = spam_go["tokens"]
    assert len(toks) == len(spam_texts)
    bad = []
    for i, (t, got) in enumerate(zip(spam_texts, toks)):
        want = train_torch.encode(t, spam_vocab)
        if got["ids"] != want or got["mask"] != [1] * len(want):
            bad.append(f"text {i} {t[:60]!r}: got {got['ids'][:12]}... ({len(got['ids'])}), "
                       f"want {want[:12]}... ({len(want)})")
    assert not bad, f"{len(bad)} of {len(spam_texts)} texts differ:\n" + "\n".join(bad[:10])


@pytest.mark.parametrize("reference", ["pytorch", "onnxruntime-python"])
def test_spam_v2_probabilities(spam_go, spam_fixture, spam_ort_python, spam_texts, reference):
    """mlserve's probabilities equal PyTorch's (recorded) and onnxruntime-python's (live) within 1e-5,
    and its labels are the argmax of theirs."""
    got = _probs(spam_go)
    if reference == "pytorch":
        texts = spam_fixture["texts"]
        want = np.array(spam_fixture["probabilities"])
        got = got[: len(texts)]
    else:
        texts, want = spam_texts, spam_ort_python
    assert spam_go["labels"] == train_torch.LABELS
    diff = np.abs(got - want)
    assert diff.max() <= TOL, _worst(diff, texts)
    labels = [p["label"] for p in spam_go["predictions"][: len(texts)]]
    assert labels == [train_torch.LABELS[k] for k in want.argmax(axis=1)]
    conf = np.array([p["confidence"] for p in spam_go["predictions"][: len(texts)]])
    assert np.abs(conf - want.max(axis=1)).max() <= TOL


def test_spam_v2_recording_covers_both_classes(spam_fixture):
    """The recorded set is a real check: both labels occur, some confidently, and the hard texts are in it."""
    p = np.array(spam_fixture["probabilities"])
    assert set(p.argmax(axis=1)) == {0, 1}
    hard = json.loads((PYTHON_DIR / "tests" / "hard_texts.json").read_text())
    assert set(hard) <= set(spam_fixture["texts"])


# ---- sentiment/v3 ------------------------------------------------------------------------------

def test_sentiment_v3_fixture_reproduces(sent_fixture, hf_tokenizer, sent_ort_python, classifier):
    """The recording still holds with the pinned tokenizers, encoder and onnxruntime: same ids, same
    embeddings within 1e-5, and predict_proba on the recorded embeddings gives the recorded probabilities."""
    texts = sent_fixture["texts"]
    assert [e.ids for e in hf_tokenizer.encode_batch(texts)] == sent_fixture["ids"]
    diff = np.abs(sent_ort_python[: len(texts)] - np.array(sent_fixture["embeddings"]))
    assert diff.max() <= TOL, _worst(diff, texts)
    proba = classifier.predict_proba(np.array(sent_fixture["embeddings"]))
    assert np.abs(proba - np.array(sent_fixture["probabilities"])).max() <= 1e-7


def test_sentiment_v3_wordpiece_ids_match_hugging_face(sent_go, sent_texts, hf_tokenizer):
    """Go's WordPiece (tokenizer.json) gives Hugging Face tokenizers' ids, mask and type ids exactly,
    [CLS]/[SEP] included, truncated at 128."""
    toks = sent_go["tokens"]
    assert len(toks) == len(sent_texts)
    bad = []
    for i, (t, got, want) in enumerate(zip(sent_texts, toks, hf_tokenizer.encode_batch(sent_texts))):
        if (got["ids"], got["mask"], got["type_ids"]) != (want.ids, want.attention_mask, want.type_ids):
            bad.append(f"text {i} {t[:60]!r}:\n  got  {got['ids'][:16]} ({len(got['ids'])})\n"
                       f"  want {want.ids[:16]} ({len(want.ids)}) {want.tokens[:16]}")
    assert not bad, f"{len(bad)} of {len(sent_texts)} texts differ:\n" + "\n".join(bad[:10])
    assert max(len(t["ids"]) for t in toks) == train_two_stage.MAX_LENGTH  # truncation was exercised


def test_sentiment_v3_embeddings_match_onnxruntime_python(sent_go, sent_texts, sent_ort_python):
    """mlserve's pooled, L2-normalised embeddings equal onnxruntime-python's within 1e-5."""
    got = np.array(sent_go["embeddings"], dtype=np.float64)
    assert got.shape == sent_ort_python.shape == (len(sent_texts), 384)
    diff = np.abs(got - sent_ort_python)
    assert diff.max() <= TOL, _worst(diff, sent_texts)
    assert np.abs(np.linalg.norm(got, axis=1) - 1).max() <= TOL


def test_sentiment_v3_embeddings_do_not_depend_on_the_batch(encoder_file, hf_tokenizer, sent_texts, sent_ort_python):
    """The int8 encoder gives a text the same embedding alone and in a padded batch of 32 (onnxruntime-python,
    within 1e-5): its activations are quantized per row (python/make_minilm_int8.py), so what mlserve's batcher
    puts beside a request cannot change its answer. quantize_dynamic's per-tensor scales fail this by 0.05."""
    batched = train_two_stage.embed(train_two_stage.encoder(encoder_file, threads=2), hf_tokenizer, sent_texts,
                                    batch=32)
    diff = np.abs(batched - sent_ort_python)
    assert diff.max() <= TOL, _worst(diff, sent_texts)


def test_sentiment_v3_probabilities_match_sklearn(sent_go, sent_texts, sent_ort_python, classifier):
    """mlserve's stage-2 probabilities equal scikit-learn's predict_proba on the onnxruntime-python
    embeddings within 1e-5; labels are scikit-learn's predict."""
    want = classifier.predict_proba(sent_ort_python)
    assert sent_go["labels"] == [str(c) for c in classifier.classes_]
    diff = np.abs(_probs(sent_go) - want)
    assert diff.max() <= TOL, _worst(diff, sent_texts)
    assert [p["label"] for p in sent_go["predictions"]] == [str(c) for c in classifier.predict(sent_ort_python)]
    assert len(set(classifier.predict(sent_ort_python))) == 3


@pytest.mark.parametrize("folder,fixture", [(SPAM, "spam-v2-torch.json"), (SENT, "sentiment-v3-embeddings.json")],
                         ids=["spam-v2", "sentiment-v3"])
def test_onnx_golden_is_recorded_output(folder, fixture):
    """The ONNX samples' parity certificates hold the outputs their training scripts recorded
    (PyTorch's for spam-v2; ONNX Runtime + scikit-learn's for sentiment-v3), at tolerance 1e-5."""
    import yaml

    fx = json.loads((REPO / "python" / "fixtures" / "onnx" / fixture).read_text())
    golden = yaml.safe_load((folder / "model.yaml").read_text())["golden"]
    assert golden["tolerance"] == 1e-5 and len(golden["texts"]) >= 20
    assert golden["producer"]["recorded_by"] == fx["written_by"]
    for g in golden["texts"]:
        i = fx["texts"].index(g["text"])
        assert g["probabilities"] == dict(zip(fx["labels"], fx["probabilities"][i]))
        assert g["label"] == fx["labels"][int(np.argmax(fx["probabilities"][i]))]

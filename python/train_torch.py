"""Train mlserve's sample PyTorch model, models/spam/v2, and export it to ONNX.

The shape of PyTorch's text-classification tutorial: a token embedding table whose
rows are mean-pooled over the text (EmbeddingBag-style), one hidden layer, and a
linear layer giving two logits (ham, spam). For a clean ONNX graph with dynamic
batch and sequence axes the pooling is written out: nn.Embedding with
padding_idx=0 and a mean over attention_mask.

Preprocessing (declared in model.yaml, reproduced by mlserve in Go):
  tokens  re.findall(r"(?u)\\b\\w\\w+\\b", text.lower()): scikit-learn's default analyzer
  ids     vocab.txt, one token a line, id = line number; 0 "<pad>", 1 "<unk>", then the
          VOCAB_SIZE-2 most frequent training tokens (count descending, then token)
  length  the first MAX_LENGTH tokens (raw emails: mostly headers; see README numbers)

Run once, from the repo root, with PyTorch installed (python/requirements-torch.txt;
CI does not need it, it uses the committed output):

    /tmp/venv/bin/python python/train_torch.py                 # train, export, record
    /tmp/venv/bin/python python/train_torch.py --max-length 1024 --dry-run   # accuracy only
    .venv/bin/python python/train_torch.py reference   # rewrite only model.yaml's reference.oov_rate
    .venv/bin/python python/train_torch.py externalize # split an older single-file model.onnx

It writes models/spam/v2/{model.onnx, model.onnx.data, vocab.txt, model.yaml} and
python/fixtures/onnx/spam-v2-torch.json: PyTorch's own probabilities (the eval-mode
module, not ONNX Runtime) on held-out emails and the hard-text set, which
python/tests/test_onnx_parity.py compares mlserve against. Training is deterministic
(fixed seed, one thread), so a rerun changes only training_date.

The embedding table (float32 [VOCAB_SIZE, 64], 5.1 MB, read only by a Gather) is ONNX external
data in model.onnx.data (python/onnx_external.py, EXTERNAL): ONNX Runtime maps it rather than
copying it into its own memory. The split is deterministic, and `externalize` makes the same two
files from the single-file export without PyTorch.

The tokenizer helpers (tokenize, build_vocab, encode, ...) need no PyTorch; the
parity suite imports them.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import json
import platform
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlserve_data import spam  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "models" / "spam" / "v2"
FIXTURE = ROOT / "python" / "fixtures" / "onnx" / "spam-v2-torch.json"
HARD_TEXTS = ROOT / "python" / "tests" / "hard_texts.json"

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
PAD, UNK = "<pad>", "<unk>"
LABELS = ["ham", "spam"]
VOCAB_SIZE = 20000  # rows of the embedding table, <pad> and <unk> included
MAX_LENGTH = 256
EMBED_DIM = 64
HIDDEN = 32
EPOCHS = 6
BATCH = 32
LEARNING_RATE = 5e-3
SEED = 0
N_FIXTURE_HELDOUT = 300  # held-out emails recorded in the fixture (first by sha256 of the text)

_TOKEN_RE = re.compile(TOKEN_PATTERN)


def tokenize(text: str) -> list[str]:
    """scikit-learn's default word analyzer: lowercase (str.lower), then the token pattern."""
    return _TOKEN_RE.findall(text.lower())


def build_vocab(texts, size: int = VOCAB_SIZE) -> list[str]:
    """<pad>, <unk>, then the size-2 most frequent tokens (count descending, ties by token)."""
    counts = collections.Counter()
    for t in texts:
        counts.update(tokenize(t))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [PAD, UNK] + [tok for tok, _ in ranked[: size - 2]]


def write_vocab(vocab: list[str], path: Path) -> None:
    # Tokens match \w\w+ after lower(): no newlines or spaces, so one a line is unambiguous.
    path.write_text("".join(tok + "\n" for tok in vocab), encoding="utf-8")


def read_vocab(path: Path) -> dict[str, int]:
    """Token -> id (the line number) from a vocab.txt."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return {tok: i for i, tok in enumerate(lines)}


def encode(text: str, index: dict[str, int], max_length: int = MAX_LENGTH) -> list[int]:
    """The ids mlserve feeds the graph for one text (no padding; <unk> for unknown tokens)."""
    unk = index[UNK]
    return [index.get(tok, unk) for tok in tokenize(text)[:max_length]]


def pad_batch(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """input_ids and attention_mask, int64 [batch, longest] (at least one column), padded with 0."""
    width = max([len(s) for s in seqs] + [1])
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


def oov_rate(text: str, index: dict[str, int], max_length: int | None = None) -> float:
    """Share of <unk> among the ids the model sees (the first max_length tokens, MAX_LENGTH by
    default): the tokens not in the vocabulary; 0.0 for a text without tokens. mlserve measures
    the same rate from the batch it encodes for the graph (internal/model/onnx/oov.go)."""
    ids = encode(text, index, MAX_LENGTH if max_length is None else max_length)
    unk = index[UNK]
    return sum(i == unk for i in ids) / len(ids) if ids else 0.0


def rewrite_oov_reference(path: Path, n: int, rates: list[float]) -> list[float]:
    """Replace the fractions of model.yaml's reference.oov_rate histogram with those of rates, leaving
    every other byte of the file as it is; the file's reference.n must be n and its edges UNIT_EDGES.
    Returns the new fractions. Needs PyYAML only to check the result."""
    import yaml
    from train_samples import UNIT_EDGES, hist

    text = path.read_text(encoding="utf-8")
    old = yaml.safe_load(text)
    ref = old["reference"]
    if ref["n"] != n or len(rates) != n:
        sys.exit(f"{path}: reference.n is {ref['n']}, the held-out split has {len(rates)} texts")
    if ref["oov_rate"]["edges"] != UNIT_EDGES:
        sys.exit(f"{path}: reference.oov_rate.edges {ref['oov_rate']['edges']} are not {UNIT_EDGES}")
    fractions = hist(rates, UNIT_EDGES)
    block = re.compile(r"(?m)^(  oov_rate:\n    edges: \[[^\]\n]*\]\n    fractions: )\[[^\]\n]*\]$")
    if len(block.findall(text)) != 1:
        sys.exit(f"{path}: no single reference.oov_rate block in the layout train_*.py writes")
    new = block.sub(lambda m: m.group(1) + "[" + ", ".join(repr(f) for f in fractions) + "]", text)
    check = yaml.safe_load(new)
    want = dict(old)
    want["reference"] = dict(ref, oov_rate={"edges": UNIT_EDGES, "fractions": fractions})
    if check != want:
        sys.exit(f"{path}: rewriting the block would change more than reference.oov_rate")
    path.write_text(new, encoding="utf-8")
    return fractions


def reference() -> None:
    """Recompute models/spam/v2/model.yaml's reference.oov_rate on the held-out split with oov_rate and
    the committed vocab.txt, without retraining (no PyTorch needed)."""
    _, _, xh, _ = spam.load_split()
    index = read_vocab(OUT / "vocab.txt")
    rates = [oov_rate(t, index) for t in xh]
    fractions = rewrite_oov_reference(OUT / "model.yaml", len(xh), rates)
    print(f"spam/v2: reference.oov_rate over {len(xh)} held-out emails (first {MAX_LENGTH} tokens): "
          f"mean {np.mean(rates):.4f}, fractions {fractions}")


def fixture_texts(heldout: list[str], hard: list[str]) -> list[str]:
    """The texts recorded in the fixture: N_FIXTURE_HELDOUT held-out emails, then the hard set."""
    held = sorted(heldout, key=lambda t: hashlib.sha256(t.encode()).hexdigest())[:N_FIXTURE_HELDOUT]
    return held + list(hard)


# ---- PyTorch (imported lazily: the parity suite uses the helpers above without it) ----

def make_model(vocab_size: int):
    import torch
    from torch import nn

    class MeanPoolClassifier(nn.Module):
        """Token embeddings mean-pooled over the attention mask, a hidden layer, two logits."""

        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, EMBED_DIM, padding_idx=0)
            self.hidden = nn.Linear(EMBED_DIM, HIDDEN)
            self.out = nn.Linear(HIDDEN, len(LABELS))

        def forward(self, input_ids, attention_mask):
            emb = self.embedding(input_ids)
            mask = attention_mask.unsqueeze(-1).to(emb.dtype)
            pooled = (emb * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return self.out(torch.relu(self.hidden(pooled)))

    return MeanPoolClassifier()


def train(model, seqs, labels):
    import torch

    gen = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()
    y = torch.tensor(labels)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(seqs), generator=gen).tolist()
        total = 0.0
        for start in range(0, len(order), BATCH):
            idx = order[start: start + BATCH]
            ids, mask = pad_batch([seqs[i] for i in idx])
            opt.zero_grad()
            loss = loss_fn(model(torch.from_numpy(ids), torch.from_numpy(mask)), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}: training loss {total / len(seqs):.4f}")


def probabilities(model, seqs, batch: int = 64) -> np.ndarray:
    """softmax of the eval-mode module's logits, float32, in input order."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(seqs), batch):
            ids, mask = pad_batch(seqs[start: start + batch])
            out.append(torch.softmax(model(torch.from_numpy(ids), torch.from_numpy(mask)), dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)), dtype=np.float32)


EXTERNAL = ["embedding.weight"]  # initializers kept in model.onnx.data


def externalize(path: Path) -> None:
    """Move EXTERNAL out of the graph at path into path.data (python/onnx_external.py)."""
    import onnx_external

    onnx_external.externalize(path, path, EXTERNAL)


def export(model, path: Path) -> None:
    import torch

    model.eval()
    ids, mask = pad_batch([[2, 3, 4], [5, 6]])
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    torch.onnx.export(model, (torch.from_numpy(ids), torch.from_numpy(mask)), str(path),
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
                      external_data=False, dynamo=True, verbose=False)


def manifest(acc, n_train, heldout, proba, index, library_versions):
    from train_samples import LENGTH_EDGES, UNIT_EDGES, hist

    pred = proba.argmax(axis=1)
    lengths = [len(t) for t in heldout]
    return {
        "framework": "onnx",
        "artifact": "model.onnx",
        "description": ("SpamAssassin spam filter on raw emails (headers + body): PyTorch token embeddings "
                        "mean-pooled over the text, one hidden layer, exported to ONNX"),
        "accuracy": round(float(acc), 4),
        "training_date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "features": (f"first {MAX_LENGTH} lowercased word tokens (scikit-learn's default token pattern), "
                     f"{len(index):,}-token vocabulary, {EMBED_DIM}-dim embeddings mean-pooled, "
                     f"{HIDDEN} ReLU hidden units; trained on {n_train} emails"),
        "labels": LABELS,
        "library_versions": library_versions,
        "preprocessing": [],
        "onnx": {
            "tokenizer": {"type": "regex", "pattern": TOKEN_PATTERN, "lowercase": True, "vocab": "vocab.txt",
                          "unk_token": UNK, "pad_token": PAD, "max_length": MAX_LENGTH, "padding": "longest",
                          "add_special_tokens": False},
            "inputs": [{"name": "input_ids", "source": "ids", "dtype": "int64"},
                       {"name": "attention_mask", "source": "mask", "dtype": "int64"}],
            "output": {"name": "logits", "kind": "logits"},
        },
        "warmup": ["Subject: meeting moved to 3pm\n\nSee you in room 4.",
                   "Subject: You WON $1,000,000!!!\n\nClick here to claim your FREE prize now."],
        "reference": {
            "n": len(heldout),
            "label_distribution": {lab: round(float(np.mean(pred == i)), 6) for i, lab in enumerate(LABELS)},
            "confidence": {"edges": UNIT_EDGES, "fractions": hist(proba.max(axis=1), UNIT_EDGES)},
            "text_length": {"edges": LENGTH_EDGES, "fractions": hist(lengths, LENGTH_EDGES),
                            "mean": round(float(np.mean(lengths)), 3), "std": round(float(np.std(lengths)), 3)},
            "oov_rate": {"edges": UNIT_EDGES, "fractions": hist([oov_rate(t, index) for t in heldout], UNIT_EDGES)},
        },
    }


def main(argv):
    global MAX_LENGTH
    if argv[:1] == ["reference"]:
        reference()
        return
    if argv[:1] == ["externalize"]:
        externalize(OUT / "model.onnx")
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-length", type=int, default=MAX_LENGTH, help="tokens kept per email")
    ap.add_argument("--dry-run", action="store_true", help="train and report accuracy, write nothing")
    args = ap.parse_args(argv)
    MAX_LENGTH = args.max_length

    import onnx
    import onnxruntime as ort
    import torch
    import yaml
    from train_samples import _NoAliases

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    xt, yt, xh, yh = spam.load_split()
    vocab = build_vocab(xt)
    index = {tok: i for i, tok in enumerate(vocab)}
    st = [encode(t, index, MAX_LENGTH) for t in xt]
    sh = [encode(t, index, MAX_LENGTH) for t in xh]
    truncated = np.mean([len(tokenize(t)) > MAX_LENGTH for t in xh])
    print(f"spam/v2: {len(xt)} training, {len(xh)} held-out emails, vocabulary {len(vocab)}, "
          f"max_length {MAX_LENGTH} ({truncated:.1%} of held-out emails truncated)")

    model = make_model(len(vocab))
    train(model, st, [LABELS.index(y) for y in yt])
    proba = probabilities(model, sh)
    acc = float(np.mean(np.array(LABELS)[proba.argmax(axis=1)] == np.array(yh)))
    print(f"spam/v2: held-out accuracy {acc:.4f} ({len(xh)} emails)")
    if args.dry_run:
        return

    OUT.mkdir(parents=True, exist_ok=True)
    write_vocab(vocab, OUT / "vocab.txt")
    export(model, OUT / "model.onnx")
    externalize(OUT / "model.onnx")
    onnx.checker.check_model(str(OUT / "model.onnx"))

    # The exported graph must agree with the module before anything is recorded.
    sess = ort.InferenceSession(str(OUT / "model.onnx"), providers=["CPUExecutionProvider"])
    ids, mask = pad_batch(sh[:64])
    logits = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    ort_p = np.exp(logits - logits.max(axis=1, keepdims=True))
    ort_p /= ort_p.sum(axis=1, keepdims=True)
    diff = float(np.abs(ort_p - proba[:64]).max())
    print(f"spam/v2: ONNX Runtime vs PyTorch on 64 held-out emails, max |dp| = {diff:.2e}")
    if diff > 1e-5:
        sys.exit("exported graph disagrees with the PyTorch module")

    import sklearn
    versions = {"python": platform.python_version(), "torch": torch.__version__.split("+")[0],
                "onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__,
                "scikit-learn": sklearn.__version__}
    with (OUT / "model.yaml").open("w") as fh:
        fh.write(f"# Written by python/train_torch.py; held-out split of {len(xh)} texts.\n")
        yaml.dump(manifest(acc, len(xt), xh, proba, index, versions), fh, Dumper=_NoAliases,
                  sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)

    # PyTorch's own probabilities, one text at a time (no padding at all), for the parity suite.
    texts = fixture_texts(xh, json.loads(HARD_TEXTS.read_text()))
    rec = probabilities(model, [encode(t, index) for t in texts], batch=1)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps({
        "model": "models/spam/v2",
        "written_by": "python/train_torch.py (torch %s, eval mode, one text per call)" % torch.__version__,
        "labels": LABELS,
        "texts": texts,
        "probabilities": [[float(p) for p in row] for row in rec],
    }, ensure_ascii=True) + "\n")
    # The parity certificate: PyTorch's own probabilities on the hard texts and the shortest held-out
    # emails (python/mlserve_certify.py); float32 through ONNX Runtime agrees within 1e-5.
    from mlserve_certify import golden_from_outputs, select_fixture_texts, write_golden

    keep = select_fixture_texts(texts, json.loads(HARD_TEXTS.read_text()))
    recorded = dict(versions, recorded_by="python/train_torch.py (torch %s, eval mode, one text per call)"
                    % torch.__version__)
    write_golden(OUT / "model.yaml", golden_from_outputs([texts[i] for i in keep], LABELS,
                                                         proba=[rec[i] for i in keep], tolerance=1e-5,
                                                         versions=recorded))
    sizes = {p.name: p.stat().st_size for p in OUT.iterdir()}
    print(f"spam/v2: wrote {OUT} {sizes}; {FIXTURE} ({len(texts)} texts, {FIXTURE.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])

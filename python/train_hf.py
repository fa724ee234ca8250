"""Train mlserve's Hugging Face sample classifiers and export each as the folder optimum exports.

Three tiny transformer classifiers, trained on the repository's own sentiment texts
(python/data/sentiment.csv), each with a tokenizer trained on the same texts (by Hugging Face
`tokenizers`, or sentencepiece for the Unigram one):

  roberta-sentiment  RobertaForSequenceClassification, byte-level BPE (ByteLevel pre-tokenizer,
                     RobertaProcessing <s> ... </s>), softmax over negative/neutral/positive
  xlmr-sentiment     XLMRobertaForSequenceClassification, SentencePiece Unigram trained by sentencepiece
                     and converted by transformers as XLM-R's was (Precompiled charsmap normalizer,
                     Metaspace, TemplateProcessing <s> ... </s>), softmax
  roberta-topics     RobertaForSequenceClassification with problem_type multi_label_classification:
                     independent sigmoids over six labels (the sentiment plus three topics a text
                     mentions: delivery, price, service; topic labels come from keyword rules below)

Each is tiny (hidden 64, 2 layers, 2 heads, vocabulary <= 2,000), randomly initialised and trained
for a few epochs on the CPU: the point is exactness, not accuracy. The multi-label one trains longer, at
a lower rate, with its rare labels weighted up (pos_weight): without that it learns the label priors only. Each folder holds what
`optimum-cli export onnx --task text-classification` writes: model.onnx (inputs input_ids and
attention_mask with dynamic batch_size and sequence_length axes, output logits), config.json
(id2label, label2id, problem_type), tokenizer.json, tokenizer_config.json and special_tokens_map.json.
The export is optimum's own (optimum-onnx's main_export, what the CLI runs), which pins
transformers 4.57: python/requirements-hf.txt is that environment.

Run once from the repo root with PyTorch installed (not needed by CI, which uses the committed
output):

    python3 -m venv /tmp/venv-hf && /tmp/venv-hf/bin/pip install -r python/requirements-hf.txt
    /tmp/venv-hf/bin/python python/train_hf.py

It writes internal/model/onnx/testdata/hf/<name>/ and python/fixtures/onnx/hf-<name>.json: the
texts (held-out sentiment texts, the hard-text set, edge texts), the ids `tokenizers` gives each
(with the tokenizer's own truncation) and PyTorch's probabilities (eval mode, float32, one text per
call, no padding): softmax of the logits, or the sigmoid of each for the multi-label model.
Training is deterministic (fixed seeds, one thread).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlserve_data import sentiment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "internal" / "model" / "onnx" / "testdata" / "hf"
FIXTURES = ROOT / "python" / "fixtures" / "onnx"
HARD_TEXTS = ROOT / "python" / "tests" / "hard_texts.json"

SEED = 0
VOCAB = 2000
SP_VOCAB = 1500  # sentencepiece's most on these texts is about 1,700
MAX_LENGTH = 128
HIDDEN, LAYERS, HEADS, INTERMEDIATE = 64, 2, 2, 128
EPOCHS = 10
EPOCHS_MULTI = 30  # six independent sigmoids learn slower than one softmax
BATCH = 16
LR = 2e-3
LR_MULTI = 5e-4

TOPICS = {
    "delivery": r"\b(deliver\w*|ship\w*|arriv\w*|packag\w*|courier|parcel)\b",
    "price": r"\b(price\w*|cheap\w*|expensive|cost\w*|money|value|refund\w*|\$\d+)",
    "service": r"\b(service|support|staff|waiter\w*|waitress\w*|customer care|help\w*|rude|friendly)\b",
}

# Beyond held-out and hard texts: what byte-level BPE and Unigram get wrong most easily.
EDGE_TEXTS = [
    " leading space", "  two leading spaces", "trailing space ", "<s> special </s> tokens <pad> inside <mask>",
    "a<mask>b inside a word", "ＦＵＬＬＷＩＤＴＨ and ﬁ ligature", "e\u0301 combining and é precomposed",
    "emoji 😀👍🏽 🇩🇪 flags", "日本語のテキスト and 中文字符 한국어", "tabs\tand\nnew\r\nlines",
    " ".join(["great"] * 200),  # truncated at MAX_LENGTH
    "x" * 300,
]


def topic_labels(text: str, label: str) -> list[str]:
    """The multi-label sample's labels of a text: its sentiment and each topic it mentions."""
    out = [label]
    for name, pat in TOPICS.items():
        if re.search(pat, text, re.IGNORECASE):
            out.append(name)
    return out


def train_bpe(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tr = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, special_tokens=special,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, tr)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    from transformers import RobertaTokenizerFast

    return RobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                model_max_length=MAX_LENGTH)


def train_unigram(texts):
    """A SentencePiece Unigram model trained by sentencepiece itself (nmt_nfkc normalisation), turned into
    XLM-R's fast tokenizer by transformers' converter, as XLM-R's own tokenizer.json was made: Precompiled
    (the charsmap) + Strip + Replace normalizers, Metaspace, Unigram with the fairseq id offset, and
    TemplateProcessing <s> ... </s>."""
    import tempfile

    import sentencepiece as spm
    from transformers import XLMRobertaTokenizerFast

    with tempfile.TemporaryDirectory() as tmp:
        spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_prefix=f"{tmp}/sp", vocab_size=SP_VOCAB,
                                       model_type="unigram", character_coverage=1.0, bos_id=-1, eos_id=-1, pad_id=-1,
                                       unk_id=0, num_threads=1, minloglevel=2)
        return XLMRobertaTokenizerFast(vocab_file=f"{tmp}/sp.model", model_max_length=MAX_LENGTH)


def make_model(family: str, tok, labels: list[str], multi: bool):
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification, XLMRobertaConfig, \
        XLMRobertaForSequenceClassification

    torch.manual_seed(SEED)
    cfg_cls, model_cls = (RobertaConfig, RobertaForSequenceClassification) if family == "roberta" else \
        (XLMRobertaConfig, XLMRobertaForSequenceClassification)
    cfg = cfg_cls(vocab_size=len(tok), hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                  intermediate_size=INTERMEDIATE, max_position_embeddings=MAX_LENGTH + 2, type_vocab_size=1,
                  pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
                  problem_type="multi_label_classification" if multi else "single_label_classification")
    cfg._attn_implementation = "eager"
    return model_cls(cfg)


def train(model, tok, texts, targets, epochs=EPOCHS, lr=LR, pos_weight=None):
    import torch

    enc = tok(texts, truncation=True, max_length=MAX_LENGTH, padding=False)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(SEED)
    model.train()
    n = len(texts)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen).tolist()
        total = 0.0
        for s in range(0, n, BATCH):
            idx = order[s:s + BATCH]
            batch = tok.pad({"input_ids": [enc["input_ids"][i] for i in idx],
                             "attention_mask": [enc["attention_mask"][i] for i in idx]}, return_tensors="pt")
            y = torch.tensor(np.array([targets[i] for i in idx]))
            if pos_weight is None:
                loss = model(**batch, labels=y).loss
            else:  # multi-label: rare labels weighted up, as BCEWithLogitsLoss's pos_weight does
                logits = model(**batch).logits
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}: loss {total / n:.4f}", flush=True)
    model.eval()


def probabilities(model, tok, texts, multi: bool):
    """PyTorch's probabilities, one text per call (no padding), float32 then float64."""
    import torch

    out = []
    with torch.no_grad():
        for t in texts:
            enc = tok(t, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0]
            p = torch.sigmoid(logits) if multi else torch.softmax(logits, dim=-1)
            out.append([float(v) for v in p.numpy().astype(np.float64)])
    return out


def export(model, tok, d: Path):
    """optimum's exporter, as `optimum-cli export onnx --task text-classification` runs it, on the model and
    tokenizer saved the way transformers saves them; it writes model.onnx, config.json and the tokenizer files."""
    import tempfile

    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        main_export(tmp, output=d, task="text-classification", do_validation=False)
    for f in d.iterdir():  # nothing else is read by mlserve or needed by the tests
        if f.name not in {"model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}:
            f.unlink()


def onnx_check(path: Path, tok, texts, want, multi: bool):
    """ONNX Runtime on the exported graph must agree with PyTorch (batched, padded) within 1e-5."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    enc = tok(texts, truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="np")
    logits = sess.run(["logits"], {"input_ids": enc["input_ids"].astype(np.int64),
                                   "attention_mask": enc["attention_mask"].astype(np.int64)})[0].astype(np.float64)
    if multi:
        p = 1 / (1 + np.exp(-logits))
    else:
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    per = np.abs(p - np.array(want)).max(axis=1)
    worst = int(per.argmax())
    print(f"  onnxruntime vs pytorch: max |diff| {per[worst]:.2e} on text {worst} {texts[worst][:50]!r}; "
          f"{int((per > 1e-6).sum())} texts over 1e-6", flush=True)
    assert per[worst] < 1e-5, per[worst]


def build(name, family, multi, train_texts, train_labels, held_texts, held_labels, fixture_texts, versions):
    import torch

    print(f"{name}:", flush=True)
    tok = train_bpe(train_texts) if family == "roberta" else train_unigram(train_texts)
    if multi:
        labels = list(sentiment.LABELS) + list(TOPICS)
        targets = []
        for t, lab in zip(train_texts, train_labels):
            on = topic_labels(t, lab)
            targets.append(np.array([1.0 if l in on else 0.0 for l in labels], dtype=np.float32))
    else:
        labels = list(sentiment.LABELS)
        targets = [labels.index(l) for l in train_labels]
    model = make_model(family, tok, labels, multi)
    if multi:
        t = np.array(targets)
        pw = torch.tensor((len(t) - t.sum(axis=0)) / np.maximum(t.sum(axis=0), 1), dtype=torch.float32)
        train(model, tok, train_texts, targets, EPOCHS_MULTI, LR_MULTI, pw)
    else:
        train(model, tok, train_texts, targets)

    held_p = np.array(probabilities(model, tok, held_texts, multi))
    if multi:
        want = np.array([[l in topic_labels(t, lab) for l in labels] for t, lab in zip(held_texts, held_labels)])
        acc = float(((held_p > 0.5) == want).all(axis=1).mean())
        print(f"  held-out exact-match accuracy {acc:.3f}", flush=True)
    else:
        acc = float(np.mean([labels[i] == l for i, l in zip(held_p.argmax(axis=1), held_labels)]))
        print(f"  held-out accuracy {acc:.3f}", flush=True)

    d = OUT / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    export(model, tok, d)

    probs = probabilities(model, tok, fixture_texts, multi)
    onnx_check(d / "model.onnx", tok, fixture_texts, probs, multi)
    ids = [tok(t, truncation=True, max_length=MAX_LENGTH)["input_ids"] for t in fixture_texts]
    fixture = {
        "model": str(d.relative_to(ROOT)),
        "written_by": f"python/train_hf.py (torch {torch.__version__}, eval mode, float32, one text per call)",
        "library_versions": versions,
        "activation": "sigmoid" if multi else "softmax",
        "labels": labels,
        "heldout_accuracy": round(acc, 4),
        "max_length": MAX_LENGTH,
        "texts": fixture_texts,
        "ids": ids,
        "probabilities": probs,
    }
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / f"hf-{name}.json").write_text(json.dumps(fixture, ensure_ascii=False, indent=None) + "\n")


def main():
    # One thread everywhere: the tokenizer trainers (rayon) and torch, so a rerun gives the same files.
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import tokenizers
    import torch
    import transformers

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    train_texts, train_labels, held_texts, held_labels = sentiment.load_split()
    hard = json.loads(HARD_TEXTS.read_text())
    fixture_texts = held_texts + hard + EDGE_TEXTS
    import optimum.version

    versions = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__, "optimum": optimum.version.__version__}
    only = set(sys.argv[1:])
    for name, family, multi in [("roberta-sentiment", "roberta", False), ("xlmr-sentiment", "xlmr", False),
                                ("roberta-topics", "roberta", True)]:
        if not only or name in only:
            build(name, family, multi, train_texts, train_labels, held_texts, held_labels, fixture_texts, versions)


if __name__ == "__main__":
    main()

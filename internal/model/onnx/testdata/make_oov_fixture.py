"""Write oov.json: the out-of-vocabulary rates the training scripts put in
model.yaml's reference histogram, for the parity fixtures' texts plus a few
edge cases, so the Go OOVRate is tested against the Python definitions.

spam/v2:      python/train_torch.py oov_rate (share of <unk> among the first max_length = 256 tokens).
sentiment/v3: python/train_two_stage.py unk_rate (share of [UNK] among the first max_length-2 = 126
              word pieces: what the encoder sees between [CLS] and [SEP]).
Both count only the ids the model sees, as mlserve's Predict does on its encoded batch.

Run from the repository root with a venv holding python/requirements.txt:
    python internal/model/onnx/testdata/make_oov_fixture.py
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "python"))

import train_torch  # noqa: E402
import train_two_stage  # noqa: E402

EXTRA = [
    "",
    "   \n\t ",
    "a b c !!! ...",  # no token of two word characters: rate 0
    "[UNK] [unk] <unk> qwzxv zzqqxx the",
    "Ünïcödé façade naïve café ΣΊΣΥΦΟΣ ß straße 東京 Ⅻ ½ ﬁle",
    "xylophonequartzjumps " * 400 + "the free money click here now",  # far beyond max_length
    "the " * 300 + "qqqzzzxxx " * 300,  # unknown words only after max_length: rate 0
    "the " * 200 + "qqqzzzxxx " * 300,  # some unknown words before max_length, many after
]


def main():
    spam_texts = json.loads((ROOT / "python/fixtures/onnx/spam-v2-torch.json").read_text())["texts"] + EXTRA
    vocab = (ROOT / "models/spam/v2/vocab.txt").read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    index = {tok: i for i, tok in enumerate(vocab)}
    sent_texts = json.loads((ROOT / "python/fixtures/onnx/sentiment-v3-embeddings.json").read_text())["texts"] + EXTRA
    full = train_two_stage.tokenizer(ROOT / "models/sentiment/v3/tokenizer.json")
    full.no_truncation()
    out = {
        "written_by": "internal/model/onnx/testdata/make_oov_fixture.py",
        "extra_texts": EXTRA,
        "spam_v2": [train_torch.oov_rate(t, index) for t in spam_texts],
        "sentiment_v3": [train_two_stage.unk_rate(full, t) for t in sent_texts],
    }
    path = Path(__file__).with_name("oov.json")
    path.write_text(json.dumps(out, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(spam_texts)} spam/v2 and {len(sent_texts)} sentiment/v3 rates")


if __name__ == "__main__":
    main()

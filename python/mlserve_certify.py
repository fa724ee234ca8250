"""Write a parity certificate (model.yaml's `golden:` section) for a fitted scikit-learn model.

The certificate is the training environment's own answers on a few texts: for each text the
predicted label and the probabilities (predict_proba) or, for a model without them, the decision
values (decision_function). mlserve predicts the same texts when it loads the version and refuses
it when any output differs by more than the tolerance, naming the first text that differs, so a
file saved by another scikit-learn release, or altered after certification, never serves.

From a training script (python/train_*.py do this):

    from mlserve_certify import certify, write_golden
    write_golden(out / "model.yaml", certify(pipeline, texts))

For a version already on disk (loads its artifact with joblib; trains nothing):

    .venv/bin/python python/mlserve_certify.py models/sentiment/v1            # the sample texts
    .venv/bin/python python/mlserve_certify.py DIR --texts texts.json --tolerance 1e-6
    # outputs a training script recorded (PyTorch's, for an ONNX export; float32: a looser tolerance)
    .venv/bin/python python/mlserve_certify.py models/spam/v2 --fixture python/fixtures/onnx/spam-v2-torch.json --tolerance 1e-5

write_golden rewrites only the golden: block of model.yaml (appended when it has none); every
other line stays as it was. Floats are written with Python's repr, which round-trips exactly.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from pathlib import Path

import yaml

DEFAULT_TOLERANCE = 1e-6


class _NoAliases(yaml.SafeDumper):
    """Writes shared lists in full (no &id001 anchors)."""

    def ignore_aliases(self, data):
        return True


def producer() -> dict[str, str]:
    """The library versions of this environment, as the certificate records them."""
    import joblib
    import numpy
    import scipy
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "joblib": joblib.__version__}


def certify(model, texts: list[str], tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """Return the golden: section for a fitted scikit-learn classifier (or Pipeline) on texts.

    Each entry has the text, the predicted label and, when the model has predict_proba, the
    probability of every class by label; otherwise the decision_function values (one for a
    binary model, one per class otherwise)."""
    if not texts:
        raise ValueError("certify: no texts")
    texts = [str(t) for t in texts]
    labels = [str(c) for c in model.classes_]
    predicted = [str(p) for p in model.predict(texts)]
    if hasattr(model, "predict_proba"):
        return golden_from_outputs(texts, labels, predicted, proba=model.predict_proba(texts), tolerance=tolerance)
    return golden_from_outputs(texts, labels, predicted, decision=model.decision_function(texts), tolerance=tolerance)


def golden_from_outputs(texts, labels, predicted=None, proba=None, decision=None,
                        tolerance: float = DEFAULT_TOLERANCE, versions: dict | None = None) -> dict:
    """The golden: section from outputs computed elsewhere (a PyTorch module, an ONNX graph):
    per text the probabilities by label (proba rows in labels order) or the decision values;
    predicted defaults to the label of the largest probability. versions defaults to this
    environment's scikit-learn stack (producer())."""
    if proba is None and decision is None:
        raise ValueError("golden_from_outputs: neither probabilities nor decision values")
    entries = []
    for i, text in enumerate(texts):
        if predicted is not None:
            label = str(predicted[i])
        else:
            row = [float(p) for p in proba[i]]
            label = labels[row.index(max(row))]
        entry = {"text": str(text), "label": label}
        if proba is not None:
            entry["probabilities"] = {lab: float(p) for lab, p in zip(labels, proba[i])}
        else:
            row = decision[i]
            entry["decision"] = [float(v) for v in (row if getattr(row, "ndim", 0) else [row])]
        entries.append(entry)
    return {"tolerance": float(tolerance), "producer": versions or producer(), "texts": entries}


def select_fixture_texts(texts: list[str], hard: list[str], n_held: int = 12) -> list[int]:
    """Indices of the texts a certificate keeps from a recorded fixture: the hard texts it
    holds, then the n_held shortest others (model.yaml stays small)."""
    hard_set = set(hard)
    keep = [i for i, t in enumerate(texts) if t in hard_set]
    others = sorted((i for i, t in enumerate(texts) if t not in hard_set), key=lambda i: (len(texts[i]), i))
    return keep + others[:n_held]


GOLDEN_BLOCK = re.compile(r"^golden:.*?(?=^\S|\Z)", re.S | re.M)


def render(golden: dict) -> str:
    """golden as a YAML block `golden: ...` ending with a newline. Non-ASCII characters are
    escaped: some (U+0085, U+2028) are line breaks to YAML and would not read back."""
    return yaml.dump({"golden": golden}, Dumper=_NoAliases, sort_keys=False, default_flow_style=None, width=120,
                     allow_unicode=False)


def write_golden(path: Path | str, golden: dict) -> None:
    """Replace model.yaml's golden: block with golden (append it when there is none), leaving
    every other line as it was; check the result parses and carries golden exactly."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    block = render(golden)
    if GOLDEN_BLOCK.search(old):
        new = GOLDEN_BLOCK.sub(lambda _: block, old, count=1)
    else:
        new = old if old.endswith("\n") or not old else old + "\n"
        new += block
    parsed = yaml.safe_load(new)
    if parsed.get("golden") != golden:
        raise RuntimeError(f"{path}: the rewritten golden: block does not read back as written")
    rest_old = {k: v for k, v in (yaml.safe_load(old) or {}).items() if k != "golden"}
    rest_new = {k: v for k, v in parsed.items() if k != "golden"}
    if rest_old != rest_new:
        raise RuntimeError(f"{path}: rewriting golden: changed other keys")
    path.write_text(new, encoding="utf-8")


def sample_texts(name: str, warmup: list[str]) -> list[str]:
    """The certified texts of a sample model: its warm-up texts, the parity suite's hard texts
    (empty, whitespace, Unicode edge cases) and held-out texts of its data set (the shortest
    emails for spam, to keep model.yaml small)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    hard = json.loads((Path(__file__).resolve().parent / "tests" / "hard_texts.json").read_text(encoding="utf-8"))
    if name == "spam":
        from mlserve_data import spam

        _, _, xh, _ = spam.load_split()
        held = sorted(xh, key=lambda t: (len(t), t))[:8]
    else:
        from mlserve_data import sentiment

        _, _, xh, _ = sentiment.load_split()
        held = xh[:16]
    out: list[str] = []
    for t in [*warmup, *hard, *held]:
        if t not in out:
            out.append(t)
    return out


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description="Write model.yaml's golden: section for a version folder.")
    ap.add_argument("dir", type=Path, help="version folder holding model.yaml and its scikit-learn artifact")
    ap.add_argument("--texts", type=Path, help="JSON list of texts (default: the sample texts of the model's name)")
    ap.add_argument("--fixture", type=Path, help="JSON {labels, texts, probabilities, written_by} recorded by a "
                    "training script (e.g. python/fixtures/onnx/spam-v2-torch.json): certify those outputs")
    ap.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    args = ap.parse_args(argv)
    import joblib

    manifest = yaml.safe_load((args.dir / "model.yaml").read_text(encoding="utf-8")) or {}
    if args.fixture:
        fx = json.loads(args.fixture.read_text(encoding="utf-8"))
        hard = json.loads((Path(__file__).resolve().parent / "tests" / "hard_texts.json").read_text(encoding="utf-8"))
        keep = select_fixture_texts(fx["texts"], hard)
        versions = dict(manifest.get("library_versions") or {})
        versions["recorded_by"] = fx.get("written_by", str(args.fixture))
        golden = golden_from_outputs([fx["texts"][i] for i in keep], fx["labels"],
                                     proba=[fx["probabilities"][i] for i in keep], tolerance=args.tolerance,
                                     versions=versions)
        write_golden(args.dir / "model.yaml", golden)
        print(f"{args.dir}: golden: {len(keep)} texts from {args.fixture}, tolerance {args.tolerance:g}")
        return
    if manifest.get("framework", "sklearn") != "sklearn":
        sys.exit(f"{args.dir}: framework {manifest.get('framework')!r}: only scikit-learn artifacts are certified here")
    model = joblib.load(args.dir / manifest.get("artifact", "model.joblib"))
    if args.texts:
        texts = json.loads(args.texts.read_text(encoding="utf-8"))
    else:
        texts = sample_texts(args.dir.resolve().parent.name, manifest.get("warmup") or [])
    golden = certify(model, texts, args.tolerance)
    write_golden(args.dir / "model.yaml", golden)
    print(f"{args.dir}: golden: {len(texts)} texts, tolerance {args.tolerance:g}")


if __name__ == "__main__":
    main(sys.argv[1:])

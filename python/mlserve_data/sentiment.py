"""The hand-written sentiment data set (python/data/sentiment.csv).

About 1,500 short reviews of products, services, restaurants, apps and travel,
hand-written for mlserve's demo models (no scraped or downloaded text), labelled
positive / negative / neutral (neutral: factual statements with no opinion, or
explicitly middling ones such as "It's fine." or "Not bad, not great."). They
range from one-word verdicts to a few sentences and include negations
("not good" is negative, "not terrible" is neutral). Columns: text,label.

Split: the same rule as the spam corpus, a text is held out when
int(sha256(text)[:8], 16) % 5 == 0 (about 20 %).
"""

from __future__ import annotations

import csv
from pathlib import Path

from .spam import split

PATH = Path(__file__).resolve().parents[1] / "data" / "sentiment.csv"
LABELS = ("negative", "neutral", "positive")


def load() -> list[tuple[str, str]]:
    """Return every (text, label) row."""
    with PATH.open(newline="", encoding="utf-8") as fh:
        return [(r["text"], r["label"]) for r in csv.DictReader(fh)]


def load_split() -> tuple[list[str], list[str], list[str], list[str]]:
    """Return (train_texts, train_labels, heldout_texts, heldout_labels)."""
    return split(load())

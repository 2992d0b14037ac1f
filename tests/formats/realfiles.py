"""The real ICANN files the formats tests read, and their manifest."""

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "ceremony-data"


def manifest() -> list[dict[str, str]]:
    with open(DATA / "MANIFEST.tsv", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))

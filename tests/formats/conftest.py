"""Shared fixtures for the formats tests: the real ICANN files and their manifest."""

import csv
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "ceremony-data"


def manifest() -> list[dict[str, str]]:
    with open(DATA / "MANIFEST.tsv", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def real_files(kind: str) -> list[str]:
    """Paths (relative to DATA) of every real file of `kind` ("KSR" or "SKR") in the manifest."""
    return [row["file"] for row in manifest() if row["type"] == kind]


@pytest.fixture
def ksr_2017_q2() -> bytes:
    return (DATA / "dnssec-keytools" / "ksr-root-2017-q2-0.xml").read_bytes()


@pytest.fixture
def skr_2017_q1() -> bytes:
    return (DATA / "dnssec-keytools" / "skr-root-2017-q1-0.xml").read_bytes()

"""SHA-256 of what the operators must compare, in hex and in PGP words, laid out for reading aloud."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path


# Package data beside the module (see appliance.policy.config.SHIPPED_POLICIES for why not importlib.resources).
PGP_WORDS_FILE = Path(__file__).resolve().parent / "data" / "pgpwords.tsv"


@cache
def _word_lists() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(even words, odd words), indexed by byte value."""
    text = PGP_WORDS_FILE.read_text("utf-8")
    even: list[str] = []
    odd: list[str] = []
    for number, line in enumerate(text.splitlines()[1:]):
        hex_value, even_word, odd_word = line.split("\t")
        if int(hex_value, 16) != number:
            raise RuntimeError(f"pgpwords.tsv is out of order at row {number}")
        even.append(even_word)
        odd.append(odd_word)
    if len(even) != 256:
        raise RuntimeError("pgpwords.tsv must have 256 rows")
    return tuple(even), tuple(odd)


def pgp_words(data: bytes) -> list[str]:
    """Bytes at even offsets take the two-syllable word, odd offsets the three-syllable one."""
    even, odd = _word_lists()
    return [(even if i % 2 == 0 else odd)[b] for i, b in enumerate(data)]


@dataclass(frozen=True)
class Fingerprint:
    sha256: bytes

    @classmethod
    def of(cls, data: bytes) -> "Fingerprint":
        return cls(hashlib.sha256(data).digest())

    @classmethod
    def from_hex(cls, text: str) -> "Fingerprint":
        cleaned = "".join(text.split()).replace(":", "").lower()
        try:
            raw = bytes.fromhex(cleaned)
        except ValueError:
            raise ValueError(f"not a hex digest: {text!r}") from None
        if len(raw) != 32:
            raise ValueError(f"a SHA-256 digest has 64 hex digits, got {len(cleaned)}")
        return cls(raw)

    @property
    def hex(self) -> str:
        return self.sha256.hex()

    @property
    def words(self) -> list[str]:
        return pgp_words(self.sha256)

    def hex_groups(self, size: int = 4) -> list[str]:
        """Hex digits in groups of `size` bytes, as people read them out."""
        h = self.hex
        step = size * 2
        return [h[i : i + step] for i in range(0, len(h), step)]

    def word_rows(self, per_row: int = 4) -> list[str]:
        """Numbered rows of words: ' 1  stopwatch  paramount  ...'."""
        words = self.words
        width = max(len(w) for w in words)
        rows = []
        for start in range(0, len(words), per_row):
            chunk = words[start : start + per_row]
            rows.append(f"{start + 1:2d}  " + "  ".join(w.ljust(width) for w in chunk).rstrip())
        return rows

    def render(self, title: str) -> str:
        """The block shown on screen and written to the log."""
        lines = [f"{title}", "SHA-256:", "  " + " ".join(self.hex_groups()), "PGP words:"]
        lines += ["  " + row for row in self.word_rows()]
        return "\n".join(lines)

"""SHA-256 of what the operators must compare, in hex and in PGP words, laid out for reading aloud."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes


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


def hash_bytes(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    """The digest of `data` by cryptography's hashes, which the signature checks load anyway
    (hashlib would load a second copy of OpenSSL: about 3 ms of every command's start)."""
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


@dataclass(frozen=True)
class Fingerprint:
    sha256: bytes

    @classmethod
    def of(cls, data: bytes) -> "Fingerprint":
        return cls(hash_bytes(hashes.SHA256(), data))

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

    def hex_groups(self, size: int = 2) -> list[str]:
        """Hex digits in upper-case groups of `size` bytes, as people read them out."""
        h = self.hex.upper()
        step = size * 2
        return [h[i : i + step] for i in range(0, len(h), step)]

    def aloud(self) -> list[str]:
        """The one layout for reading a hash aloud, on screen, in the log and from every command:
        16 numbered groups of four hex digits in two rows, then the 32 PGP words, numbered, in
        capitals, four to a row (the longest words still fit 76 columns: the log indents the
        block by 4 of its 80, so no word is carried to a row of its own behind the log's '+').
        One reads the number, the other the group or word."""
        groups = self.hex_groups()
        lines = ["  " + "  ".join(f"{n + 1:>2}:{groups[n]}" for n in range(row, row + 8)) for row in (0, 8)]
        words = [w.upper() for w in self.words]
        lines += ["  " + "".join(f"{n + 1:>2}. {words[n]:<13}  " for n in range(row, row + 4)).rstrip()
                  for row in range(0, 32, 4)]
        return lines[:2] + [""] + lines[2:]

    def render(self, title: str) -> str:
        """The block shown on screen and written to the log: `title`, then `aloud()`."""
        return "\n".join([title, *self.aloud()])

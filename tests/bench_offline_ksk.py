"""Knot DNS / BIND 9 text files: reading a real response, and a response near the 1 MiB cap.

Figures: dnspython's master-file reader is what the appliance waits for on a text file; the
near-cap file (the real example. response repeated, 700-odd bundles) bounds a hostile stick's cost.
"""

from __future__ import annotations

from pathlib import Path

from appliance.formats.text_dialects import parse_text_request, parse_text_response
from appliance.policy import check_request_bytes, load_policy
from tests.bench import measure

DATA = Path(__file__).resolve().parents[2] / "shared" / "ceremony-data" / "offline-ksk"


def _near_cap(data: bytes, limit: int = 1_000_000) -> bytes:
    body = data.split(b"\n;; SignedKeyResponse 1.0 generated")[0]
    grown = body
    while len(grown) + len(body) < limit:
        grown += b"\n" + body
    return grown + b"\n;; SignedKeyResponse 1.0 generated at 2026-11-30T12:00:00Z by bench\n"


def main() -> None:
    ksr = (DATA / "knot" / "root.ksr.txt").read_bytes()
    measure("verify-ksr in-process, real Knot root request (5 bundles)",
            lambda: check_request_bytes(ksr, load_policy("knot-root")), repeat=10)
    measure("parse, real Knot root request", lambda: parse_text_request(ksr), repeat=10)
    skr = (DATA / "knot" / "example.skr.txt").read_bytes()
    measure("parse, real Knot example. response (48 KB, 34 bundles, 272 records)",
            lambda: parse_text_response(skr), repeat=5)
    big = _near_cap(skr)
    measure(f"parse, a {len(big):,}-byte response (the real one repeated)", lambda: parse_text_response(big), repeat=1)

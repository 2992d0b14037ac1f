"""The real ICANN files the policy tests run on, parsed once, and small model mutators.

Mutating parsed real requests (dataclasses.replace) gives each check a failing case that differs
from a real, accepted request in exactly one respect.
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from appliance.formats import parse_request, parse_response
from appliance.model import Request, Response

DATA = Path(__file__).resolve().parents[3] / "shared" / "ceremony-data"
KEYTOOLS = DATA / "dnssec-keytools"
LEGACY = DATA / "dnssec-keytools-legacy"
BAD_SWAPPED = DATA / "synthetic-test" / "ksr-root-2018-q1-0-d_to_e.BAD-swapped-sigs.xml"
ROOT_ANCHORS = DATA / "root-anchors.xml"
ROOT_DNSKEYS = DATA / "root-ksk-dnskeys.txt"

# Every real KSR: the era policy it is judged under and its real previous response, if we have it.
ERAS = {
    "ksr-root-2009-q4-2.xml": ("root-2009", None),
    "ksr-root-2010-q1-0.xml": ("root-2010", LEGACY / "skr-root-2009-q4-2.xml"),
    "ksr-root-2010-q2-0.xml": ("root-2010", LEGACY / "skr-root-2010-q1-0.xml"),
    "ksr-root-2016-q3-0.xml": ("root-2016", None),
    "ksr-root-2017-q2-0.xml": ("root", KEYTOOLS / "skr-root-2017-q1-0.xml"),
    "ksr-root-2018-q1-0-d_to_e.xml": ("root", None),
}


def manifest_files(kind: str) -> list[Path]:
    with open(DATA / "MANIFEST.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [DATA / row["file"] for row in rows if row["type"] == kind]


def real_ksrs() -> list[Path]:
    return [p for p in manifest_files("KSR") if p.parent.name != "synthetic-test"]


def real_skrs() -> list[Path]:
    return manifest_files("SKR")


@cache
def request(path: Path) -> Request:
    return parse_request(path.read_bytes())


@cache
def response(path: Path) -> Response:
    return parse_response(path.read_bytes())


def start_of(request_: Request) -> datetime:
    """'Now' at the start of the request's quarter: its first inception."""
    return request_.bundles[0].inception


KSR_2017_Q2 = KEYTOOLS / "ksr-root-2017-q2-0.xml"
SKR_2017_Q1 = KEYTOOLS / "skr-root-2017-q1-0.xml"
SKR_2017_Q2 = KEYTOOLS / "skr-root-2017-q2-0.xml"
SKR_2018_Q1 = KEYTOOLS / "skr-root-2018-q1-0-d_to_e.xml"
NOW_2017_Q2 = datetime(2017, 4, 1, tzinfo=UTC)


def with_bundle(container, index: int, **changes):
    """The request or response with bundle `index` (0-based) changed."""
    bundles = list(container.bundles)
    bundles[index] = replace(bundles[index], **changes)
    return replace(container, bundles=tuple(bundles))


def with_key_everywhere(container, identifier: str, **changes):
    """The key named `identifier` changed in every bundle it appears in."""
    bundles = []
    for bundle in container.bundles:
        keys = tuple(replace(k, **changes) if k.key_identifier == identifier else k for k in bundle.keys)
        bundles.append(replace(bundle, keys=keys))
    return replace(container, bundles=tuple(bundles))


def flip_bit(data: bytes, bit: int) -> bytes:
    position = bit // 8 % len(data)
    return data[:position] + bytes([data[position] ^ (1 << bit % 8)]) + data[position + 1 :]


def bundle_numbers(messages) -> set[int]:
    """The 1-based bundle numbers that messages name ('bundle 3 (...)')."""
    return {int(n) for m in messages for n in re.findall(r"\bbundle (\d+) \(", m)}

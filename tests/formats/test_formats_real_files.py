"""Every real KSR/SKR parses to what MANIFEST.tsv says, and writes back byte for byte."""

import re
from dataclasses import replace

import pytest

from appliance.formats import (
    KSKM_SKR,
    KSKM_SKR_INDENTED,
    LEGACY_SKR,
    SORTED_KSR,
    VERISIGN_KSR,
    parse_request,
    parse_response,
    write_request,
    write_response,
)
from tests.formats.realfiles import DATA, manifest

ROWS = {row["file"]: row for row in manifest()}


def _tags(text: str) -> set[int]:
    return set() if text == "-" else {int(tag) for tag in text.split(",")}


def _parse(path: str):
    data = (DATA / path).read_bytes()
    return parse_request(data) if ROWS[path]["type"] == "KSR" else parse_response(data)


@pytest.mark.parametrize("path", sorted(ROWS))
def test_real_file_matches_manifest(path):
    row = ROWS[path]
    parsed = _parse(path)
    bundles = parsed.bundles
    assert parsed.id == row["ksr_id"]
    assert parsed.serial == int(row["serial"])
    assert parsed.domain == "."
    assert len(bundles) == int(row["bundles"])
    assert bundles[0].inception.isoformat() == row["first_inception"].replace("Z", "+00:00")
    assert bundles[-1].expiration.isoformat() == row["last_expiration"].replace("Z", "+00:00")
    assert "/".join(sorted({str(b.validity) for b in bundles})) == row["bundle_durations"]
    keys = [key for bundle in bundles for key in bundle.keys]
    assert {k.key_tag for k in keys if k.flags == 256} == _tags(row["zsk_tags"])
    assert {k.key_tag for k in keys if k.flags & 1} == _tags(row["ksk_tags_published"])
    assert {s.key_tag for b in bundles for s in b.signatures} == _tags(row["signer_tags"])


# Which producer's layout each real file is in; all of them are reproduced byte for byte.
EXACT_LAYOUTS = {
    "dnssec-keytools/skr-root-2017-q1-0.xml": KSKM_SKR,
    "dnssec-keytools/skr-root-2017-q2-0.xml": KSKM_SKR,
    "dnssec-keytools/skr-root-2017-q3-0-c_to_d.xml": KSKM_SKR,
    "dnssec-keytools/skr-root-2018-q1-0-d_to_e.xml": KSKM_SKR_INDENTED,
    "dnssec-keytools-legacy/skr-root-2009-q4-2.xml": LEGACY_SKR,
    "dnssec-keytools-legacy/skr-root-2010-q1-0.xml": LEGACY_SKR,
    "dnssec-keytools-legacy/skr-root-2010-q2-0.xml": LEGACY_SKR,
    "dnssec-keytools-legacy/skr-root-2010-q2-0-revoke.xml": LEGACY_SKR,
    "dnssec-keytools/ksr-root-2016-q3-0.xml": VERISIGN_KSR,
    "dnssec-keytools/ksr-root-2017-q2-0.xml": VERISIGN_KSR,
    "dnssec-keytools/ksr-root-2018-q1-0-d_to_e.xml": SORTED_KSR,
    "synthetic-test/ksr-root-2018-q1-0-d_to_e.BAD-swapped-sigs.xml": SORTED_KSR,
}


@pytest.mark.parametrize("path", sorted(EXACT_LAYOUTS))
def test_write_reproduces_real_file_byte_for_byte(path):
    original = (DATA / path).read_bytes()
    parsed = _parse(path)
    writer = write_request if ROWS[path]["type"] == "KSR" else write_response
    assert writer(parsed, EXACT_LAYOUTS[path]) == original
    if EXACT_LAYOUTS[path] in (KSKM_SKR, VERISIGN_KSR):  # the defaults
        assert writer(parsed) == original


@pytest.mark.parametrize(
    "path",
    ["dnssec-keytools/ksr-root-2009-q4-2.xml", "dnssec-keytools/ksr-root-2010-q1-0.xml", "dnssec-keytools/ksr-root-2010-q2-0.xml"],
)
def test_early_test_ksrs_differ_only_in_hand_made_whitespace(path):
    """2009/2010 requests: no offsets on any time, one policy block indented two extra spaces,
    and CRLF line ends in 2010-q2. Everything but that whitespace is reproduced."""
    original = (DATA / path).read_bytes()
    layout = replace(VERISIGN_KSR, signature_time_suffix="")
    written = write_request(parse_request(original), layout)
    assert written != original

    def squash(data: bytes) -> bytes:
        return re.sub(rb"\r?\n *", b"\n", data).rstrip(b"\n")

    assert squash(written) == squash(original)


@pytest.mark.parametrize("path", sorted(ROWS))
@pytest.mark.parametrize("indented", [False, True])
def test_parse_of_write_is_identity(path, indented):
    parsed = _parse(path)
    if ROWS[path]["type"] == "KSR":
        layout = SORTED_KSR if indented else VERISIGN_KSR
        assert parse_request(write_request(parsed, layout)) == parsed
    else:
        layout = KSKM_SKR_INDENTED if indented else LEGACY_SKR
        assert parse_response(write_response(parsed, layout)) == parsed


def test_request_response_pair_share_zsks():
    request = _parse("dnssec-keytools/ksr-root-2017-q2-0.xml")
    response = _parse("dnssec-keytools/skr-root-2017-q2-0.xml")
    assert request.id == response.id
    for asked, answered in zip(request.bundles, response.bundles, strict=True):
        assert set(asked.keys) <= set(answered.keys)
        assert (asked.inception, asked.expiration) == (answered.inception, answered.expiration)

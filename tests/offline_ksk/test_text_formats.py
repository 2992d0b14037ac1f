"""Knot DNS / BIND 9 KSR and SKR text files: reading (both dialects, every presentation variant,
refusals naming the line) and writing (byte for byte as the real tools lay them out)."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.errors import FormatError
from appliance.formats.bind import write_bind_response
from appliance.formats.detect import read_request, read_response
from appliance.formats.knot import write_knot_response
from appliance.formats.detect import detect_format
from appliance.formats.text_dialects import parse_text_request, parse_text_response
from tests.offline_ksk.refdata import OFFLINE_KSK, read


def manifest() -> dict[str, dict[str, str]]:
    with open(OFFLINE_KSK / "MANIFEST.tsv", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


READABLE = [name for name, row in manifest().items() if row["type"] in ("KSR", "SKR", "SKR-corrupted")]


@pytest.mark.parametrize("name", READABLE)
def test_every_real_file_reads_as_the_manifest_describes(name):
    row = manifest()[name]
    data = read(name)
    model = read_request(data) if row["type"] == "KSR" else read_response(data)
    assert model.dialect == detect_format(data) == ("knot" if "knot" in row["tool"] else "bind")
    assert model.domain == row["zone"]
    assert len(model.bundles) == int(row["bundles"])
    assert model.bundles[0].inception.strftime("%Y-%m-%dT%H:%M:%SZ") == row["first_bundle"]
    assert model.bundles[-1].inception.strftime("%Y-%m-%dT%H:%M:%SZ") == row["last_bundle"]
    zsk_tags = {k.key_tag for b in model.bundles for k in b.keys if k.flags == 256}
    assert zsk_tags == {int(t) for t in row["zsk_tags"].split(",")}
    if row["type"] != "KSR":
        assert {s.key_tag for b in model.bundles for s in b.signatures} == {int(row["signer_tags"])}


def _trailer(data: bytes) -> tuple[datetime, str]:
    line = data.decode().rstrip("\n").split("\n")[-1]
    when, generator = re.fullmatch(r";; SignedKeyResponse 1\.0 generated at (.*?) by (.*)", line).groups()
    for layout in ("%Y-%m-%dT%H:%M:%SZ", "%a %b %d %H:%M:%S %Y"):
        try:
            return datetime.strptime(when, layout).replace(tzinfo=UTC), generator
        except ValueError:
            continue
    raise AssertionError(line)


def _bind_group_starts(data: bytes) -> set[int]:
    starts, index, blank = set(), -1, False
    for line in data.decode().split("\n"):
        if not line:
            blank = True
        elif re.match(r";; SignedKeyResponse 1\.0 \d", line):
            index += 1
            if blank:
                starts.add(index)
            blank = False
    return starts


SKRS = ["knot/root.skr.txt", "knot/example.skr.txt", "bind/root.skr.txt", "bind/example.skr.txt",
        "cross/root.knot-ksr.signed-by-bind.skr.txt", "cross/root.bind-ksr.signed-by-knot-3.5.6.skr.txt"]


@pytest.mark.parametrize("name", SKRS)
def test_writers_reproduce_every_real_response_byte_for_byte(name):
    data = read(name)
    response = parse_text_response(data)
    generated_at, generator = _trailer(data)
    if response.dialect == "knot":
        assert write_knot_response(response, generated_at, generator) == data
    else:
        assert write_bind_response(response, generated_at, generator, _bind_group_starts(data)) == data


def test_a_response_written_in_the_other_dialect_reads_back_the_same():
    knot = parse_text_response(read("knot/example.skr.txt"))
    as_bind = parse_text_response(write_bind_response(knot, datetime(2026, 11, 30, tzinfo=UTC), "test"))
    assert as_bind.dialect == "bind"
    assert [b.inception for b in as_bind.bundles] == [b.inception for b in knot.bundles]
    # BIND's layout puts each RRSIG after its RRset: the same signatures, in another order.
    assert [(b.keys, set(b.signatures), b.records) for b in as_bind.bundles] == \
        [(b.keys, set(b.signatures), b.records) for b in knot.bundles]


def _keys(request):
    return [(b.inception, b.expiration, b.keys) for b in request.bundles]


def test_presentation_variants_read_the_same():
    """Knot's wrapped records rewritten one per line, with class IN, comments, blank lines and
    YYYYMMDDhhmmss headers: the same bundles and keys."""
    knot = parse_text_request(read("knot/root.ksr.txt"))
    text = read("knot/root.ksr.txt").decode()
    one_line = re.sub(r"\(\n((?:\t+\S+\n)+)\t+\) ;[^\n]*", lambda m: " ".join(m.group(1).split()), text)
    one_line = one_line.replace("\t172800 DNSKEY", "\t172800\tIN\tDNSKEY")
    one_line = re.sub(r";; KeySigningRequest 1\.0 (\d{10}) \([^)]*\) =+",
                      lambda m: ";; KeySigningRequest 1.0 " + datetime.fromtimestamp(int(m.group(1)), UTC)
                      .strftime("%Y%m%d%H%M%S") + " ; a comment\n; another\n", one_line)
    variant = parse_text_request(one_line.encode())
    assert variant.dialect == "bind"
    assert _keys(variant) == _keys(knot)


def test_a_repeated_bundle_time_is_read_and_kept():
    text = read("bind/root.ksr.txt").decode()
    headers = re.findall(r";; KeySigningRequest 1\.0 \d{14}", text)
    repeated = text.replace(headers[2], headers[1])
    request = parse_text_request(repeated.encode())
    assert request.bundles[1].inception == request.bundles[2].inception


BAD = [  # (edit of knot/root.ksr.txt, words the refusal names)
    (lambda t: t + "x" * (1024 * 1024), "more than the limit"),
    (lambda t: t.replace("8340", "83\u00e940", 1), "not ASCII"),
    (lambda t: t.replace("AwEAAem2", "AwEA\x00em2", 1), "control character"),
    (lambda t: ". 172800 DNSKEY 256 3 8 AwEAAQ==\n" + t, "before the first"),
    (lambda t: t + ". 172800 DNSKEY 256 3 8 AwEAAQ==\n", "after the trailer"),
    (lambda t: t.rsplit(";; KeySigningRequest 1.0 generated", 1)[0], "trailer"),
    (lambda t: t.replace("KeySigningRequest 1.0 1801267200", "KeySigningRequest 2.0 1801267200"), "version"),
    (lambda t: t.replace("KeySigningRequest 1.0 1801267200", "SignedKeyResponse 1.0 1801267200"), "SignedKeyResponse"),
    (lambda t: t.replace("1801267200", "20261301000000", 1), "calendar date"),
    (lambda t: t.replace("1801267200", "20270130000000", 1), "mix"),
    (lambda t: t.replace("1801267200", "18012672", 1), "neither"),
    (lambda t: t.replace("1801267200", "9" * 50000, 1), "neither"),
    (lambda t: t.replace("KeySigningRequest 1.0 1801267200", "KeySigningRequest " + "v" * 50000, 1), "version"),
    (lambda t: t.replace("=========\n.", "=========\n$INCLUDE /etc/passwd\n.", 1), "line"),
    (lambda t: t.replace("=========\n.", "=========\n. 172800 TXT \"x\"\n.", 1), "TXT"),
    (lambda t: t.replace("172800 DNSKEY 256", "172800 CH DNSKEY 256", 1), "class"),
    (lambda t: t.replace(".                   \t172800", "example.\t172800", 1), "owner"),
    (lambda t: t.replace("AwEAAem2LP2jScPc1Nn5ffxjIlp5LovSaWTyGn8Q", "not-base64!", 1), "line"),
]


@pytest.mark.parametrize(("edit", "words"), BAD)
def test_malformed_requests_are_refused_naming_the_fault(edit, words):
    with pytest.raises(FormatError) as raised:
        parse_text_request(edit(read("knot/root.ksr.txt").decode("latin-1")).encode("latin-1"))
    assert raised.value.check == "KSR-TEXT"
    assert words in str(raised.value)
    assert len(str(raised.value)) < 400  # a hostile file is quoted briefly, never at length


def test_forced_format_refuses_the_other_dialect_and_xml():
    with pytest.raises(FormatError, match="BIND's encoding, not KNOT's"):
        read_request(read("bind/root.ksr.txt"), "knot")
    with pytest.raises(FormatError) as raised:
        read_request(read("bind/root.ksr.txt"), "icann")
    assert raised.value.check == "KSR-XML"
    with pytest.raises(FormatError) as raised:
        read_response(b"<?xml version='1.0'?><KSR/>", "bind")
    assert raised.value.check == "KSR-TEXT"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=3785), st.binary(min_size=1, max_size=8))
def test_any_corruption_is_a_format_error_or_a_model(position, junk):
    data = read("knot/root.ksr.txt")
    mutated = data[:position] + junk + data[position + len(junk):]
    try:
        parse_text_request(mutated)
    except FormatError as exc:
        assert exc.check == "KSR-TEXT"

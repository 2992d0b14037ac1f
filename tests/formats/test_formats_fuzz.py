"""Mutated real files: the parsers return a model or raise FormatError, never anything else,
and whatever they accept writes back to the same model."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.errors import FormatError
from appliance.formats import TrustAnchor, parse_request, parse_response, parse_trust_anchors, write_request, write_response
from tests.formats.mutations import ORIGINALS, mutate
from tests.formats.realfiles import DATA


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_real_files_give_a_model_or_format_error(data):
    path = data.draw(st.sampled_from(sorted(ORIGINALS)))
    original, kind = ORIGINALS[path]
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = mutate(mutated, data.draw)
    parse, write = (parse_request, write_request) if kind == "KSR" else (parse_response, write_response)
    try:
        parsed = parse(bytes(mutated))
    except FormatError as error:
        assert str(error).startswith("KSR-XML: ")
        return
    assert parse(write(parsed)) == parsed


TRUST_ANCHOR_FILES = [(DATA / name).read_bytes() for name in ("root-anchors.xml", "root-ksk-dnskeys.txt")]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_trust_anchor_files_give_anchors_or_format_error(data):
    mutated = bytearray(data.draw(st.sampled_from(TRUST_ANCHOR_FILES)))
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = mutate(mutated, data.draw)
    try:
        anchors = parse_trust_anchors(bytes(mutated))
    except FormatError as error:
        assert str(error).startswith("TRUST-ANCHOR: ")
        return
    assert anchors and all(isinstance(anchor, TrustAnchor) for anchor in anchors)

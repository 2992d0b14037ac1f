"""Spellings that XML or xsd treat as the same document give the same model."""

import re
from datetime import datetime, timezone

import pytest

from appliance.formats import parse_request, parse_response, write_request, write_response


@pytest.fixture
def expected(ksr_2017_q2):
    return parse_request(ksr_2017_q2)


def test_single_quotes(ksr_2017_q2, expected):
    assert b'"' in ksr_2017_q2
    assert parse_request(ksr_2017_q2.replace(b'"', b"'")) == expected


def test_comments_and_processing_instructions_anywhere(ksr_2017_q2, expected):
    commented = b"<!-- before -->\n" + ksr_2017_q2.replace(b"<Key ", b"<!-- a key -->\n<?note x?><Key ")
    commented = commented.replace(b"<TTL>172800</TTL>", b"<TTL>17<!-- split -->2800</TTL>")
    assert commented.count(b"<!--") > 20
    assert parse_request(commented) == expected


def test_whitespace_between_elements_does_not_matter(ksr_2017_q2, expected):
    compact = re.sub(rb">\s+<", b"><", ksr_2017_q2)
    spread = re.sub(rb"><", b">\n\t  \r\n<", compact)
    assert parse_request(compact) == expected
    assert parse_request(spread) == expected


def test_whitespace_around_values_and_inside_base64(ksr_2017_q2, expected):
    padded = re.sub(rb"<(TTL|Flags|Inception|KeyTag|PublishSafety)>([^<]*)<", rb"<\1>\n  \2 \n<", ksr_2017_q2)
    wrapped = re.sub(
        rb"<(PublicKey|SignatureData)>([^<]*)<",
        lambda m: b"<" + m[1] + b">\n" + b"\n".join(m[2][i : i + 64] for i in range(0, len(m[2]), 64)) + b"\n<",
        padded,
    )
    assert wrapped != ksr_2017_q2
    assert parse_request(wrapped) == expected


def test_attribute_order_does_not_matter(ksr_2017_q2, expected):
    def reverse_attributes(match):
        attributes = re.findall(rb'\s+\w+="[^"]*"', match[2])
        return b"<" + match[1] + b"".join(reversed(attributes)) + match[3]

    reordered = re.sub(rb"<(\w+)((?:\s+\w+=\"[^\"]*\")+)(/?>)", reverse_attributes, ksr_2017_q2)
    assert reordered.startswith(b'<KSR serial="1" domain="." id=')
    assert parse_request(reordered) == expected


def test_utc_written_three_ways(ksr_2017_q2, expected):
    with_z = re.sub(rb"(\d\d:\d\d:\d\d)(\+00:00)?<", rb"\1Z<", ksr_2017_q2)
    with_offset = re.sub(rb"(\d\d:\d\d:\d\d)(\+00:00)?<", rb"\1+00:00<", ksr_2017_q2)
    bare = re.sub(rb"(\d\d:\d\d:\d\d)(\+00:00)?<", rb"\1<", ksr_2017_q2)
    assert len({with_z, with_offset, bare, ksr_2017_q2}) == 4
    for variant in (with_z, with_offset, bare):
        assert parse_request(variant) == expected


def test_zero_padded_and_plus_signed_integers(ksr_2017_q2, expected):
    padded = ksr_2017_q2.replace(b'keyTag="14796"', b'keyTag="0014796"').replace(b"<TTL>", b"<TTL>+0")
    assert parse_request(padded) == expected


def test_xml_declaration_and_crlf(skr_2017_q1):
    crlf = skr_2017_q1.replace(b"\n", b"\r\n")
    no_declaration = skr_2017_q1.split(b"\n", 1)[1]
    assert parse_response(crlf) == parse_response(skr_2017_q1) == parse_response(no_declaration)


def test_optional_timestamp_and_signers_round_trip(ksr_2017_q2, skr_2017_q1):
    stamped = ksr_2017_q2.replace(b"<Request>", b'<Request timestamp="2017-01-01T00:15:00Z">', 1)
    signed_by = stamped.replace(
        b"<Expiration>2017-04-22T00:00:00</Expiration>",
        b'<Expiration>2017-04-22T00:00:00</Expiration><Signer keyIdentifier="KSK-2010"/><Signer keyIdentifier="KSK-2017"/>',
        1,
    )
    request = parse_request(signed_by)
    assert request.timestamp == datetime(2017, 1, 1, 0, 15, tzinfo=timezone.utc)
    assert request.bundles[0].signers == ("KSK-2010", "KSK-2017")
    assert request.bundles[1].signers == ()
    written = write_request(request)
    assert b'<Request timestamp="2017-01-01T00:15:00+00:00">' in written
    assert b'<Signer keyIdentifier="KSK-2010"/>' in written
    assert parse_request(written) == request
    response = parse_response(skr_2017_q1.replace(b"<Response>", b'<Response timestamp="2017-01-02T00:00:00">'))
    assert response.timestamp == datetime(2017, 1, 2, tzinfo=timezone.utc)
    assert parse_response(write_response(response)) == response


def test_escaping_in_identifiers_round_trips(ksr_2017_q2):
    odd = ksr_2017_q2.replace(b'id="23e34059-7725-46a8-a7d2-662d657aab2b"', b'id="a&amp;b&lt;c&quot;d&#10;e"', 1)
    request = parse_request(odd)
    assert request.id == 'a&b<c"d\ne'
    assert parse_request(write_request(request)) == request

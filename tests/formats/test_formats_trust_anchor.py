"""Trust anchors from root-anchors.xml (RFC 7958) and root-ksk-dnskeys.txt (DNSKEY/DS lines)."""

import base64
import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from appliance.errors import FormatError
from appliance.formats import parse_response
from appliance.formats.trust_anchor import TrustAnchor, anchor_from_key, parse_trust_anchors, write_trust_anchor_xml
from tests.formats.realfiles import DATA

XML = (DATA / "root-anchors.xml").read_bytes()
LINES = (DATA / "root-ksk-dnskeys.txt").read_bytes()
IANA_ID = "E9724F53-1851-4F86-85E5-F1392102940B"
IANA_SOURCE = "http://data.iana.org/root-anchors/root-anchors.xml"
UTC = timezone.utc


def _ksks(path: str):
    response = parse_response((DATA / path).read_bytes())
    return {key.key_tag: key for bundle in response.bundles for key in bundle.keys if key.flags & 1}


def test_root_anchors_xml():
    anchors = parse_trust_anchors(XML)
    assert [(a.id, a.key_tag, a.algorithm, a.digest_type) for a in anchors] == [
        ("Kjqmt7v", 19036, 8, 2),
        ("Klajeyz", 20326, 8, 2),
        ("Kmyv6jo", 38696, 8, 2),
    ]
    assert anchors[0].digest.hex().upper() == "49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5"
    assert anchors[0].valid_until == datetime(2019, 1, 11, tzinfo=UTC)
    assert anchors[1].valid_from == datetime(2017, 2, 2, tzinfo=UTC) and anchors[1].valid_until is None
    assert all(a.zone == "." and a.key is None for a in anchors)


def test_dnskey_lines_give_keys_and_the_same_digests():
    from_lines = parse_trust_anchors(LINES)
    from_xml = parse_trust_anchors(XML)
    assert [(a.key_tag, a.digest) for a in from_lines] == [(a.key_tag, a.digest) for a in from_xml]
    assert all(a.key is not None and a.key.flags == 257 and a.key.ttl == 172800 for a in from_lines)
    assert [a.key.key_tag for a in from_lines] == [19036, 20326, 38696]


@pytest.mark.parametrize("source", [XML, LINES])
def test_anchors_match_the_real_ksks(source):
    anchors = parse_trust_anchors(source)
    ksks = _ksks("dnssec-keytools/skr-root-2018-q1-0-d_to_e.xml")
    assert set(ksks) == {19036, 20326}
    for tag, key in ksks.items():
        assert [a.key_tag for a in anchors if a.matches(key)] == [tag]
    test_ksk = _ksks("dnssec-keytools-legacy/skr-root-2009-q4-2.xml")[5017]
    assert not any(a.matches(test_ksk) for a in anchors)
    assert not anchors[0].matches(ksks[19036], owner="com.")


def test_a_flipped_bit_in_the_key_no_longer_matches():
    key = _ksks("dnssec-keytools/skr-root-2017-q1-0.xml")[19036]
    anchor = parse_trust_anchors(XML)[0]
    assert anchor.matches(key)
    flipped = bytearray(key.public_key)
    flipped[100] ^= 1
    assert not anchor.matches(replace(key, public_key=bytes(flipped)))


def test_validity_window():
    kjqmt7v, klajeyz, _ = parse_trust_anchors(XML)
    assert kjqmt7v.valid_at(datetime(2017, 1, 1, tzinfo=UTC))
    assert not kjqmt7v.valid_at(datetime(2019, 1, 11, tzinfo=UTC))
    assert not klajeyz.valid_at(datetime(2017, 2, 1, tzinfo=UTC))
    assert klajeyz.valid_at(datetime(2099, 1, 1, tzinfo=UTC))


def test_write_reproduces_root_anchors_xml():
    assert write_trust_anchor_xml(parse_trust_anchors(XML), id=IANA_ID, source=IANA_SOURCE) == XML


def test_write_keys_with_rfc9718_public_key_and_read_back():
    ksks = _ksks("dnssec-keytools/skr-root-2018-q1-0-d_to_e.xml")
    start = datetime(2017, 2, 2, tzinfo=UTC)
    written = write_trust_anchor_xml([ksks[19036], ksks[20326]], valid_from=start, source=IANA_SOURCE)
    assert b"<PublicKey>AwEAAagAIKlVZrpC6Ia7" in written and b"<Flags>257</Flags>" in written
    assert written == write_trust_anchor_xml([ksks[19036], ksks[20326]], valid_from=start, source=IANA_SOURCE)
    again = parse_trust_anchors(written)
    assert [a.id for a in again] == ["Kjqmt7v", "Klajeyz"]
    assert [a.digest for a in again] == [a.digest for a in parse_trust_anchors(XML)[:2]]
    assert all(a.matches(ksks[a.key_tag]) and a.valid_from == start for a in again)


def test_write_refuses_anchor_without_valid_from():
    anchor = parse_trust_anchors(LINES)[0]
    with pytest.raises(ValueError, match="no validFrom"):
        write_trust_anchor_xml([anchor])
    with pytest.raises(ValueError, match="no trust anchors"):
        write_trust_anchor_xml([])


def test_line_format_variants():
    key = parse_trust_anchors(LINES)[0].key
    body = "AwEAAagAIKlVZrpC6Ia7gEzahOR+9W29euxhJhVVLOyQbSEW0O8gcCjFFVQUTf6v58fLjwBd0YI0EzrAcQqBGCzh/RStIoO8g0NfnfL2MTJRkxoXbfDaUeVPQuYEhg37NZWAJQ9VnMVDxP/VHL496M/QZxkjf5/Efucp2gaDX6RS6CXpoY68LsvPVjR0ZSwzz1apAzvN9dlzEheX7ICJBBtuA6G3LQpzW5hOA2hzCTMjJPJ8LbqF6dsV6DoBQzgul0sGIcGOYl7OyQdXfZ57relSQageu+ipAdTTJ25AsRTAoub8ONGcLmqrAmRLKBP1dfwhYB4N7knNnulqQxA+Uk1ihz0="
    multiline = f". IN 172800 DNSKEY 257 3 8 ( {body[:100]} ; comment\n  {body[100:]} )\n"
    anchors = parse_trust_anchors(multiline.encode())
    assert len(anchors) == 1 and anchors[0].key.public_key == key.public_key and anchors[0].key_tag == 19036
    plain = f".\tDNSKEY\t257 3 8 {body}".encode()
    assert parse_trust_anchors(plain)[0].digest == anchors[0].digest


def test_ds_only_lines():
    only_ds = b". 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
    (anchor,) = parse_trust_anchors(only_ds)
    assert anchor.key is None and anchor.key_tag == 20326
    assert anchor == TrustAnchor(".", 20326, 8, 2, parse_trust_anchors(XML)[1].digest)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (LINES.replace(b"8 2 49AAC11D", b"8 2 49AAC11E"), r"^TRUST-ANCHOR: line 10: DS for key tag 19036 matches none of the 1 DNSKEY"),
        (b". 172800 IN A 192.0.2.1\n", r"line 1: expected a DNSKEY or DS record"),
        (b". DNSKEY 257 3 8 not*base64\n", r"line 1: "),
        (b". DNSKEY 385 3 8 AwEAAQ==\n", r"line 1: a revoked key"),
        (b". DNSKEY 257 3\n", r"line 1: DNSKEY: want flags"),
        (b". DS 1 8 2 XYZ\n", r"line 1: 'XYZ' is not a hexadecimal digest"),
        (b". DS 1 8 3 ABCD\n", r"line 1: digest type 3 is not supported"),
        (b". DS 1 8 2 ABCD\n", r"line 1: a type 2 digest has 32 bytes, this one 2"),
        (XML.replace(b"<DigestType>2</DigestType>", b"<DigestType>1</DigestType>", 1), r"line 8, <Digest>: a type 1 digest has 20 bytes, this one 32"),
        (b"; nothing\n\n", r"^TRUST-ANCHOR: the file holds no trust anchor"),
        (b". DNSKEY ( 257 3 8 AwEAAQ==\n", r"line 1: unbalanced parentheses"),
        (b"\xff\xfe", r"not UTF-8"),
        (XML.replace(b"<Digest>49AAC11D", b"<Digest>49AAC11"), r"^TRUST-ANCHOR: line 8, <Digest>: .* not a hexadecimal digest"),
        (XML.replace(b'validFrom="2017-02-02T00:00:00+00:00"', b'validFrom="2017-02-02T00:00:00+02:00"'), r"line 10, <KeyDigest>: attribute validFrom: .*only UTC"),
        (XML.replace(b"<Zone>.</Zone>", b""), r"line 4, <KeyDigest>: expected <Zone>"),
        (XML.replace(b"<TrustAnchor ", b"<Anchor ").replace(b"</TrustAnchor>", b"</Anchor>"), r"line 2, <Anchor>: the root element must be <TrustAnchor>"),
        (b"<!DOCTYPE x>" + XML, r"^TRUST-ANCHOR: line 1, <!DOCTYPE>"),
        (
            XML.replace(b"</Digest>\n</KeyDigest>\n<KeyDigest id=\"Klajeyz\"", b"</Digest>\n<PublicKey>AwEAAQ==</PublicKey>\n<Flags>257</Flags>\n</KeyDigest>\n<KeyDigest id=\"Klajeyz\""),
            r"line 4, <KeyDigest>: <Digest> for key tag 19036 does not match the <PublicKey>",
        ),
    ],
)
def test_bad_trust_anchor_files(data, pattern):
    with pytest.raises(FormatError, match=pattern) as caught:
        parse_trust_anchors(data)
    assert caught.value.check == "TRUST-ANCHOR"


def test_size_cap():
    with pytest.raises(FormatError, match="more than the limit of 100 bytes"):
        parse_trust_anchors(LINES, max_size=100)


def test_anchor_from_key_round_trips_through_lines():
    key = parse_trust_anchors(LINES)[1].key
    assert anchor_from_key(key) == parse_trust_anchors(LINES)[1]


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA384"])
def test_ds_of_every_supported_digest_type_matches_as_dnspython_computes_it(algorithm):
    import dns.dnssec
    import dns.name
    import dns.rdata

    key = parse_trust_anchors(LINES)[1].key
    dnskey = dns.rdata.from_text("IN", "DNSKEY", f"{key.flags} {key.protocol} {key.algorithm} {base64.b64encode(key.public_key).decode()}")
    ds = dns.dnssec.make_ds(dns.name.root, dnskey, algorithm, policy=dns.dnssec.allow_all_policy)
    (anchor,) = parse_trust_anchors(f". 172800 IN DS {ds.to_text()}\n".encode())
    assert anchor.matches(key)
    assert not anchor.matches(replace(key, flags=256))


@pytest.mark.parametrize("flags,words", [(1, "the Zone flag (256) is clear"), (385, "a revoked key")])
def test_an_anchor_key_that_may_not_validate_is_refused_in_both_forms(flags, words):
    key = next(a.key for a in parse_trust_anchors(LINES) if a.key is not None)
    unusable = replace(key, flags=flags)
    line = f". IN DNSKEY {flags} 3 {key.algorithm} {base64.b64encode(key.public_key).decode()}\n".encode()
    with pytest.raises(FormatError, match=re.escape(words)):
        parse_trust_anchors(line)
    xml = write_trust_anchor_xml([anchor_from_key(unusable)], valid_from=datetime(2020, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(FormatError, match=f"<PublicKey> for key tag .*: .*{re.escape(words)}"):
        parse_trust_anchors(xml)


def test_a_non_canonical_rsa_anchor_key_is_refused():
    key = next(a.key for a in parse_trust_anchors(LINES) if a.key is not None)
    long_form = b"\x00\x00" + key.public_key  # the three-octet exponent length for a short exponent
    line = f". IN DNSKEY 257 3 8 {base64.b64encode(long_form).decode()}\n".encode()
    with pytest.raises(FormatError, match="three-octet exponent length"):
        parse_trust_anchors(line)

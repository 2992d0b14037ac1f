"""Each class of malformed input ends in one FormatError naming the check, the line and the element."""

import re

import pytest

from appliance.errors import FormatError
from appliance.formats import DEFAULT_MAX_SIZE, parse_request, parse_response


def refused(parse, data: bytes, pattern: str, **kwargs) -> FormatError:
    with pytest.raises(FormatError, match=pattern) as caught:
        parse(data, **kwargs)
    assert str(caught.value).startswith("KSR-XML: ")
    assert caught.value.check == "KSR-XML"
    return caught.value


def test_doctype_refused(ksr_2017_q2):
    refused(parse_request, b"<!DOCTYPE KSR>\n" + ksr_2017_q2, r"^KSR-XML: line 1, <!DOCTYPE>: document type")


def test_entity_expansion_refused(ksr_2017_q2):
    laughs = b'<!DOCTYPE KSR [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
    refused(parse_request, laughs + ksr_2017_q2.replace(b'domain="."', b'domain="&b;"'), r"line 1, <!DOCTYPE>")


def test_external_entity_refused_even_after_a_declaration(ksr_2017_q2):
    external = b'<?xml version="1.0"?>\n<!DOCTYPE KSR [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    refused(parse_request, external + ksr_2017_q2.replace(b'domain="."', b'domain="&x;"'), r"line 2, <!DOCTYPE>")


def test_doctype_in_utf16_is_caught_after_parsing(ksr_2017_q2):
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE KSR>\n' + ksr_2017_q2.decode()
    refused(parse_request, text.encode("utf-16"), r"<!DOCTYPE>: document type declarations are refused")


def test_undeclared_entity_is_not_well_formed(ksr_2017_q2):
    refused(parse_request, ksr_2017_q2.replace(b'domain="."', b'domain="&x;"'), r"^KSR-XML: line 1: not well-formed XML: .*'x'")


def test_size_cap(ksr_2017_q2):
    refused(parse_request, ksr_2017_q2, r"19556 bytes, more than the limit of 19555 bytes", max_size=19555)
    assert parse_request(ksr_2017_q2, max_size=19556).id
    refused(parse_request, b" " * (DEFAULT_MAX_SIZE + 1), r"more than the limit of 1048576 bytes")


def test_not_well_formed(ksr_2017_q2):
    refused(parse_request, ksr_2017_q2[:5000], r"^KSR-XML: line \d+: not well-formed XML")
    refused(parse_request, b"", r"not well-formed XML: Document is empty")
    refused(parse_request, ksr_2017_q2.replace(b"</TTL>", b"</TTX>", 1), r"^KSR-XML: line 20: not well-formed XML")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"2017-13-01T00:00:00", "is not a valid timestamp"),
        (b"2017-02-29T00:00:00", "is not a valid timestamp"),
        (b"2017-04-01", "is not a valid timestamp"),
        (b"2017-04-01 00:00:00", "is not a valid timestamp"),
        (b"2017-04-01T00:00:00.5", "has fractional seconds"),
    ],
)
def test_bad_timestamp(ksr_2017_q2, value, reason):
    bad = ksr_2017_q2.replace(b"<Inception>2017-04-01T00:00:00<", b"<Inception>" + value + b"<")
    refused(parse_request, bad, rf"^KSR-XML: line 17, <Inception>: '{value.decode()}' {reason}")


@pytest.mark.parametrize("offset", [b"+01:00", b"-05:00", b"-00:00", b"+00:30"])
def test_non_utc_offset(ksr_2017_q2, offset):
    bad = ksr_2017_q2.replace(b"2017-01-01T00:15:04+00:00", b"2017-01-01T00:15:04" + offset, 1)
    refused(parse_request, bad, rf"^KSR-XML: line 40, <SignatureInception>: .* has offset .*only UTC")


def test_bad_timestamp_attribute(skr_2017_q1):
    bad = skr_2017_q1.replace(b"<Response>", b'<Response timestamp="yesterday">')
    refused(parse_response, bad, r"^KSR-XML: line 3, <Response>: attribute timestamp: 'yesterday' is not a valid")


@pytest.mark.parametrize(
    ("value", "reason"), [(b"P1M", "years or months"), (b"P1Y", "years or months"), (b"-P1D", "negative"), (b"10 days", "not a valid duration"), (b"P", "not a valid duration"), (b"P1DT", "not a valid duration")]
)
def test_bad_duration(ksr_2017_q2, value, reason):
    bad = ksr_2017_q2.replace(b"<MaxValidityOverlap>P12D<", b"<MaxValidityOverlap>" + value + b"<")
    refused(parse_request, bad, rf"^KSR-XML: line 9, <MaxValidityOverlap>: .*{reason}")


@pytest.mark.parametrize("value", [b"!AwEAAQ==", b"AwEAAQ=", b"AwE\xc3\xa9AAQ==", b"   "])
def test_bad_base64(ksr_2017_q2, value):
    bad = re.sub(rb"<PublicKey>[^<]*<", b"<PublicKey>" + value + b"<", ksr_2017_q2, count=1)
    refused(parse_request, bad, r"^KSR-XML: line 24, <PublicKey>: .*(not valid base64|is empty)")


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        (b'keyTag="14796"', b'keyTag="65536"', r"line 19, <Key>: attribute keyTag: 65536 is larger than 65535"),
        (b'keyTag="14796"', b'keyTag="-1"', r"line 19, <Key>: attribute keyTag: '-1' is not a non-negative integer"),
        (b"<Flags>256<", b"<Flags>2.5e2<", r"line 21, <Flags>: '2.5e2' is not a non-negative integer"),
        (b"<Algorithm>8<", b"<Algorithm>\xd9\xa8<", r"line 23, <Algorithm>: .* is not a non-negative integer"),
        (b'serial="1"', b'serial="1_0"', r"line 1, <KSR>: attribute serial: '1_0' is not"),
        (b"<Labels>0<", b"<Labels>99999999999999999999999999<", r"line 37, <Labels>: .*far too large"),
        (b"<Labels>0<", b"<Labels>256<", r"line 37, <Labels>: 256 is larger than 255"),
    ],
)
def test_bad_integers(ksr_2017_q2, old, new, pattern):
    refused(parse_request, ksr_2017_q2.replace(old, new, 1), pattern)


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        (b"<Expiration>2017-04-22T00:00:00</Expiration>", b"", r"line 19, <Key>: expected <Expiration> inside <RequestBundle>, found <Key>"),
        (b"<SignersName>.</SignersName>", b"", r"line 43, <SignatureData>: expected <SignersName> inside <Signature>"),
        (b"<PublicKey>", b"<PublicKeyX>", None),
        (b"<Inception>2017-04-01T00:00:00</Inception>", b"<Inception>2017-04-01T00:00:00</Inception>" * 2, r"line 17, <Inception>: expected <Expiration>"),
        (b"<TTL>172800</TTL>", b"<TTL>172800</TTL><Foo/>", r"line 20, <Foo>: expected <Flags> inside <Key>, found <Foo>"),
        (b'keyTag="14796"', b'keyTag="14796" extra="1"', r"line 19, <Key>: unexpected attribute 'extra'"),
        (b' keyTag="14796"', b"", r"line 19, <Key>: attribute 'keyTag' is missing"),
        (b"<TTL>172800</TTL>", b"<TTL>172800</TTL>stray", r"line 20, <TTL>: unexpected text 'stray' after <TTL>"),
        (b"<TTL>172800</TTL>", b"<TTL><Value>172800</Value></TTL>", r"line 20, <Value>: unexpected element <Value> inside <TTL>"),
        (b'<RSA size="2048" exponent="65537"/>', b'<RSA size="2048"/>', r"line 12, <RSA>: attribute 'exponent' is missing"),
        (b'<RSA size="2048" exponent="65537"/>', b'<RSA size="2048" exponent="65537">x</RSA>', r"line 12, <RSA>: unexpected text 'x'"),
        (b"</RequestBundle>\n  </Request>", b"</RequestBundle>\n<Extra/></Request>", r"<Extra>: unexpected element <Extra> inside <Request>"),
    ],
)
def test_structure_errors(ksr_2017_q2, old, new, pattern):
    bad = ksr_2017_q2.replace(old, new, 1)
    assert bad != ksr_2017_q2
    refused(parse_request, bad, pattern or r"^KSR-XML: line \d+")


def test_bundle_without_signature(ksr_2017_q2):
    start = ksr_2017_q2.index(b"<Signature ")
    end = ksr_2017_q2.index(b"</RequestBundle>")
    refused(parse_request, ksr_2017_q2[:start] + ksr_2017_q2[end:], r"line 16, <RequestBundle>: <Signature> is missing")


def test_wrong_root(ksr_2017_q2):
    refused(parse_request, b"<Foo/>", r"^KSR-XML: line 1, <Foo>: the root element must be <KSR>")
    namespaced = ksr_2017_q2.replace(b"<KSR ", b'<KSR xmlns="urn:x" ', 1)
    refused(parse_request, namespaced, r"^KSR-XML: line 1, <\{urn:x\}KSR>: the root element must be <KSR>")


def test_request_where_response_expected_and_back(ksr_2017_q2, skr_2017_q1):
    refused(parse_response, ksr_2017_q2, r"line 1, <KSR>: this file is a request \(KSR\), but a response \(SKR\) was expected")
    refused(parse_request, skr_2017_q1, r"line 2, <KSR>: this file is a response \(SKR\), but a request \(KSR\) was expected")


def test_response_bundle_may_not_name_signers(skr_2017_q1):
    bad = skr_2017_q1.replace(b"<Expiration>2017-01-22T00:00:00+00:00</Expiration>\n", b'<Expiration>2017-01-22T00:00:00+00:00</Expiration>\n<Signer keyIdentifier="x"/>\n', 1)
    refused(parse_response, bad, r"line 31, <Signer>: expected <Key> inside <ResponseBundle>, found <Signer>")


def test_not_bytes_is_a_programming_error(ksr_2017_q2):
    with pytest.raises(TypeError):
        parse_request(ksr_2017_q2.decode())


@pytest.mark.parametrize("value", [b"2", b"4", b"0", b"255"])
def test_protocol_is_fixed_to_3_by_the_schema(ksr_2017_q2, skr_2017_q1, value):
    for parse, data in ((parse_request, ksr_2017_q2), (parse_response, skr_2017_q1)):
        bad = data.replace(b"<Protocol>3</Protocol>", b"<Protocol>" + value + b"</Protocol>", 1)
        refused(parse, bad, rf"^KSR-XML: line \d+, <Protocol>: {int(value)} is not 3, the only value the schema allows")

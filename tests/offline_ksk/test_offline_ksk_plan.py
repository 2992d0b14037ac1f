"""The bundle plan and RRSIGs by Knot's and BIND's rules, with the TEST KSKs as software keys (no
HSM): the four root responses the real tools made (native and cross) come out byte for byte but
for the trailer, and a repeated request time is signed once, with the later bundle's keys."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from appliance import dnssec
from appliance.errors import UsageError
from appliance.formats.detect import read_request, read_response
from appliance.model import Key
from appliance.signing.config import load_signing_config
from appliance.signing.offline_ksk_config import rules_from_table
from appliance.signing.offline_ksk_bundles import (
    build_text_response,
    bundle_times,
    header_token,
    plan_text_bundles,
    response_dialect,
    write_text_response,
)
from tests.offline_ksk.refdata import FIXTURE, ROOT_KSKS, read

def _rules(config: str):
    """The [offline_ksk] rules of a shipped example configuration (tests/fixtures/offline-ksk/)."""
    return load_signing_config(FIXTURE / config).offline_ksk


def _sign(ksr: bytes, rules, signer: str) -> bytes:
    private = serialization.load_pem_private_key(ROOT_KSKS[signer][0].read_bytes(), None)
    public = dnssec.dnskey_public_key(private.public_key())
    tag = dnssec.key_tag(Key("", 0, 0, 257, 3, 8, public))
    request = read_request(ksr)
    plan = plan_text_bundles(request, rules, {"current": Key(str(tag), tag, 0, 257, 3, 8, public)},
                             header_token(response_dialect(rules, request)))
    response = build_text_response(request, plan, rules,
                                   lambda name, data, alg: private.sign(data, padding.PKCS1v15(), hashes.SHA256()))
    return write_text_response(response, plan, datetime(2026, 11, 30, tzinfo=UTC))


@pytest.mark.parametrize(("ksr", "config", "response_format", "signer", "expected"), [
    ("knot/root.ksr.txt", "knot-root.toml", "request", "knot", "knot/root.skr.txt"),
    ("bind/root.ksr.txt", "bind-root.toml", "request", "bind", "bind/root.skr.txt"),
    ("knot/root.ksr.txt", "bind-root.toml", "bind", "bind", "cross/root.knot-ksr.signed-by-bind.skr.txt"),
    ("bind/root.ksr.txt", "knot-root.toml", "knot", "knot", "cross/root.bind-ksr.signed-by-knot-3.5.6.skr.txt"),
])
def test_the_rules_reproduce_the_real_tools(ksr, config, response_format, signer, expected):
    rules = replace(_rules(config), response_format=response_format)
    ours, theirs = _sign(read(ksr), rules, signer).split(b"\n"), read(expected).split(b"\n")
    assert ours[:-2] == theirs[:-2]
    assert re.fullmatch(rb";; SignedKeyResponse 1\.0 generated at .* by ceremony \S+", ours[-2])


def test_a_repeated_request_time_is_signed_once_with_the_later_keys():
    text = read("bind/root.ksr.txt").decode()
    headers = re.findall(r";; KeySigningRequest 1\.0 \d{14}", text)
    request = read_request(text.replace(headers[2], headers[1]).encode())
    times = bundle_times(request, _rules("bind-root.toml"))
    assert [index for index, _ in times].count(1) == 0  # the earlier twin is never used
    assert times[8] == (2, request.bundles[2].inception)


@pytest.mark.parametrize(("edit", "words"), [
    ({"rules": "nsd"}, "rules"),
    ({"rrsig_refresh": "P30D"}, "below rrsig_lifetime"),
    ({"ksks": ["other"]}, "not defined"),
    ({"cds_digest_types": [1]}, "cds_digest_types"),
    ({"response_format": "xml"}, "response_format"),
    ({"surprise": 1}, "unknown"),
    ({"cds_from": "tomorrow"}, "UTC time"),
])
def test_bad_offline_ksk_settings_are_usage_errors(edit, words):
    table = {"rules": "knot", "rrsig_lifetime": "P21D", "rrsig_refresh": "P11D", "ksks": ["current"]}
    with pytest.raises(UsageError, match=words):
        rules_from_table({**table, **edit}, {"current": None}, "test")


EXAMPLES = [  # request, the tool's response, the shipped example configuration of its KSK side
    ("knot/example.ksr.txt", "knot/example.skr.txt", "knot-example.toml"),
    ("bind/example.ksr.txt", "bind/example.skr.txt", "bind-example.toml"),
]


@pytest.mark.parametrize(("ksr", "skr", "config"), EXAMPLES)
def test_the_rules_plan_the_ecdsa_examples_as_the_tools_did(ksr, skr, config):
    """ECDSA signatures are random and the example KSKs' private keys are not given, so everything
    else is compared: bundle times (three ZSK rolls), DNSKEY RRsets in order with TTLs, CDS and
    CDNSKEY (BIND: only from the KSK's SyncPublish, which also caps the first step), and each
    RRSIG's type, TTLs, inception and expiration."""
    theirs = read_response(read(skr))
    ksk = next(k for k in theirs.bundles[0].keys if k.flags == 257)
    request = read_request(read(ksr))
    rules = _rules(config)
    plan = plan_text_bundles(request, rules, {"current": ksk}, header_token(request.dialect))
    assert [p.request_bundle.inception for p in plan] == [b.inception for b in theirs.bundles]
    assert [p.keys for p in plan] == [b.keys for b in theirs.bundles]
    assert [p.records for p in plan] == [b.records for b in theirs.bundles]
    for planned, bundle in zip(plan, theirs.bundles):
        moment = planned.request_bundle.inception
        for signature in bundle.signatures:
            assert signature.inception == moment - rules.inception_offset
            assert signature.expiration == moment + rules.rrsig_lifetime
            covered = planned.keys if signature.type_covered == "DNSKEY" else \
                [r for r in planned.records if r.rtype == signature.type_covered]
            assert signature.ttl == signature.original_ttl == covered[0].ttl

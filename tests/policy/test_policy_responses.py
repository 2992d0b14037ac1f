"""Response checks on every real SKR: all pass; one flipped bit in a signature, key or date fails.

Signature verdicts are cross-checked against dnspython's validator (dns.dnssec.validate), an
independent implementation, on the same bundles and on the same mutations.
"""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from appliance.formats import parse_trust_anchors
from appliance.policy import validate_response
from appliance.policy.request_checks import bundle_signature_problems
from appliance.policy.runner import ANSWER_CHECKS, CLOCK_CHECKS, RESPONSE_CHECKS, TRUST_ANCHOR_CHECKS
from tests.dnspython_judge import ValidationFailure, validate_bundle
from tests.policy.realdata import (
    BAD_SWAPPED,
    KEYTOOLS,
    KSR_2017_Q2,
    ROOT_ANCHORS,
    ROOT_DNSKEYS,
    SKR_2017_Q2,
    SKR_2018_Q1,
    bundle_numbers,
    flip_bit,
    real_ksrs,
    real_skrs,
    request,
    response,
    with_bundle,
)

PRODUCTION = [p for p in real_skrs() if p.parent == KEYTOOLS]
ANCHOR_FILES = {"xml": ROOT_ANCHORS, "dnskey-lines": ROOT_DNSKEYS}


def _anchors(kind):
    return parse_trust_anchors(ANCHOR_FILES[kind].read_bytes())


def test_every_response_check_is_exercised_here():
    ids = {c for c, _ in RESPONSE_CHECKS + TRUST_ANCHOR_CHECKS + ANSWER_CHECKS + CLOCK_CHECKS}
    assert ids == {"SKR-VERIFY", "SKR-TRUST-ANCHOR", "SKR-MATCHES-KSR", "SKR-HORIZON"}


# ICANN's 2010 test artefact: every bundle signed only by the revoked KSK1. A revoked key's signature
# proves its own revocation and nothing else (RFC 5011 2.1): no resolver may use these bundles.
REVOKED_ONLY = "skr-root-2010-q2-0-revoke.xml"


@pytest.mark.parametrize("path", [p for p in real_skrs() if p.name != REVOKED_ONLY], ids=lambda p: p.name)
def test_every_real_response_verifies(path):
    verdict = validate_response(response(path))
    assert verdict.valid, verdict.violations
    assert verdict.checks_run == ("SKR-VERIFY",)


def test_the_legacy_response_signed_only_by_a_revoked_ksk_fails_each_bundle_for_that_alone():
    [path] = [p for p in real_skrs() if p.name == REVOKED_ONLY]
    verdict = validate_response(response(path))
    assert len(verdict.violations) == len(response(path).bundles)
    for violation in verdict.violations:
        assert violation.check == "SKR-VERIFY"
        assert violation.message.endswith(
            "no valid signature by a KSK that is not revoked (signed by key 5145 (KSK1) (revoked))")


@pytest.mark.parametrize("kind", ANCHOR_FILES)
@pytest.mark.parametrize("path", PRODUCTION, ids=lambda p: p.name)
def test_production_responses_are_signed_by_the_root_trust_anchors(path, kind):
    assert validate_response(response(path), _anchors(kind)).valid


@pytest.mark.parametrize("path", [p for p in real_skrs() if p not in PRODUCTION], ids=lambda p: p.name)
def test_test_key_responses_fail_the_root_trust_anchors(path):
    verdict = validate_response(response(path), _anchors("xml"))
    failures = verdict.failed("SKR-TRUST-ANCHOR")
    assert bundle_numbers(v.message for v in failures) == set(range(1, len(response(path).bundles) + 1))


def test_trust_anchor_not_yet_valid_does_not_count():
    """KSK-2017's anchor is valid from 2017-02-02: a bundle it signs before then is not trusted."""
    skr = response(SKR_2018_Q1)
    early = with_bundle(skr, 1, inception=datetime.fromisoformat("2017-01-11T00:00:00+00:00"))
    verdict = validate_response(early, _anchors("xml"))
    assert bundle_numbers(v.message for v in verdict.failed("SKR-TRUST-ANCHOR")) == {2}


def test_response_answers_its_request():
    assert validate_response(response(SKR_2017_Q2), request=request(KSR_2017_Q2)).valid
    other = request(KEYTOOLS / "ksr-root-2018-q1-0-d_to_e.xml")
    failures = validate_response(response(SKR_2017_Q2), request=other).failed("SKR-MATCHES-KSR")
    assert any("is not the request's id" in v.message for v in failures)
    assert bundle_numbers(v.message for v in failures) == set(range(1, 10))


def test_response_with_a_dropped_zsk_does_not_answer_its_request():
    skr = response(SKR_2017_Q2)
    gone = skr.bundles[0].keys[0]
    dropped = with_bundle(skr, 0, keys=skr.bundles[0].keys[1:])
    failures = validate_response(dropped, request=request(KSR_2017_Q2)).failed("SKR-MATCHES-KSR")
    assert len(failures) == 1
    assert f"bundle 1 ({skr.bundles[0].id}): requested ZSK key {gone.key_tag} " in failures[0].message


def test_horizon_with_now():
    skr = response(SKR_2017_Q2)
    assert validate_response(skr, now=skr.bundles[0].inception).valid
    late = validate_response(skr, now=skr.bundles[0].expiration)
    assert bundle_numbers(v.message for v in late.failed("SKR-HORIZON")) == {1}
    early = validate_response(skr, now=skr.bundles[0].inception - timedelta(days=100))
    assert early.failed("SKR-HORIZON")


# -- one flipped bit anywhere that matters


def _mutations(container):
    """(name, mutated container) for a bit flip in every signature, every public key and every date."""
    for b, bundle in enumerate(container.bundles):
        for s, signature in enumerate(bundle.signatures):
            signatures = list(bundle.signatures)
            signatures[s] = replace(signature, signature_data=flip_bit(signature.signature_data, 8 * s + 3 + b))
            yield f"bundle {b + 1} signature {s + 1} data", with_bundle(container, b, signatures=tuple(signatures))
            for field in ("inception", "expiration"):
                signatures = list(bundle.signatures)
                moved = getattr(signature, field) + timedelta(seconds=1 << (b % 20))
                signatures[s] = replace(signature, **{field: moved})
                yield f"bundle {b + 1} signature {s + 1} {field}", with_bundle(container, b, signatures=tuple(signatures))
        for k, key in enumerate(bundle.keys):
            keys = list(bundle.keys)
            keys[k] = replace(key, public_key=flip_bit(key.public_key, 8 * (k + 5) + b))
            yield f"bundle {b + 1} key {k + 1} public key", with_bundle(container, b, keys=tuple(keys))
        for field in ("inception", "expiration"):
            moved = getattr(bundle, field) + timedelta(seconds=1 << (b % 20))
            yield f"bundle {b + 1} {field}", with_bundle(container, b, **{field: moved})


@pytest.mark.parametrize("path", real_skrs(), ids=lambda p: p.name)
def test_any_flipped_bit_fails_verification(path):
    before = set(validate_response(response(path)).violations)  # the revoked-only legacy file fails already
    for name, mutated in _mutations(response(path)):
        added = [v for v in validate_response(mutated).violations if v not in before]
        assert {v.check for v in added} == {"SKR-VERIFY"}, name
        bundle = int(name.split()[1])
        assert bundle_numbers(v.message for v in added) == {bundle}, name


# -- dnspython as an independent judge


def _dnspython_accepts(bundle) -> bool:
    """True when dnspython validates every signature of the bundle with the bundle's keys."""
    try:
        validate_bundle(bundle)
    except ValidationFailure:
        return False
    return bool(bundle.signatures)


def _all_bundles():
    for path in real_skrs() + real_ksrs() + [BAD_SWAPPED]:
        container = response(path) if path in real_skrs() else request(path)
        for index, bundle in enumerate(container.bundles):
            yield f"{path.name}#{index + 1}", bundle


@pytest.mark.parametrize("name,bundle", list(_all_bundles()), ids=lambda v: v if isinstance(v, str) else "")
def test_our_signature_verdict_agrees_with_dnspython(name, bundle):
    ours = not list(bundle_signature_problems(name, bundle, "."))
    assert ours == _dnspython_accepts(bundle)
    expected_bad = name.startswith(BAD_SWAPPED.name) and name.endswith("#1")
    assert ours is not expected_bad


def test_dnspython_agrees_on_mutations():
    for name, mutated in _mutations(response(SKR_2017_Q2)):
        if "signature" not in name and "public key" not in name:
            continue  # a bundle's own dates are in no RRSIG; only our date-match rule sees them
        bundle = mutated.bundles[int(name.split()[1]) - 1]
        assert list(bundle_signature_problems(name, bundle, ".")), name
        assert not _dnspython_accepts(bundle), name


def test_a_keytag_attribute_other_than_the_computed_tag_fails_skr_verify():
    """keyTag is outside the signed data: a stick could make the bundle table and the JSON's ksk_tags
    name another KSK (here 20326, the root's) than the one that signed."""
    skr = response(SKR_2017_Q2)
    ksk = next(k for k in skr.bundles[4].keys if k.flags == 257)
    relabelled = with_bundle(skr, 4, keys=tuple(replace(k, key_tag=20326) if k is ksk else k for k in skr.bundles[4].keys))
    failures = validate_response(relabelled).failed("SKR-VERIFY")
    assert [v.message for v in failures] == [
        f"bundle 5 ({skr.bundles[4].id}): key 20326 ({ksk.key_identifier}): keyTag attribute is 20326, "
        f"the key's computed tag is {ksk.key_tag}"]

"""Each request check fails on a real request changed in one respect, and passes on the real one.

The base case is ICANN's ksr-root-2017-q2-0 with its real previous response skr-root-2017-q1-0,
judged at the start of its quarter under the shipped root policy: it passes every check.
"""

from dataclasses import replace
from datetime import timedelta

import pytest

from appliance import dnssec
from appliance.model import AlgorithmPolicy, Signature
from appliance.policy import load_policy, validate_request
from appliance.policy.runner import CHAIN_CHECKS, REQUEST_CHECKS
from tests.policy.realdata import (
    KSR_2017_Q2,
    NOW_2017_Q2,
    SKR_2017_Q1,
    SKR_2018_Q1,
    bundle_numbers,
    flip_bit,
    request,
    response,
    with_bundle,
    with_key_everywhere,
)

ROOT = load_policy("root")
BASE = request(KSR_2017_Q2)
PREVIOUS = response(SKR_2017_Q1)
ZSK2, ZSK3 = BASE.bundles[0].keys[1], BASE.bundles[0].keys[0]  # 61045 and 14796
DAY = timedelta(days=1)


def _case(request=BASE, policy=ROOT, previous=PREVIOUS, now=NOW_2017_Q2):
    return dict(request=request, policy=policy, previous=previous, now=now)


def _with_claims(**changes):
    return replace(BASE, zsk_policy=replace(BASE.zsk_policy, **changes))


def _shift(index, delta):
    bundle = BASE.bundles[index]
    return with_bundle(BASE, index, inception=bundle.inception + delta, expiration=bundle.expiration + delta)


def _tag_twin(key, other):
    """A key unlike `key` whose tag equals `other`'s (a clash), made by adjusting its last two bytes."""
    for value in range(65536):
        candidate = replace(key, public_key=key.public_key[:-2] + value.to_bytes(2, "big"))
        if dnssec.key_tag(candidate) == dnssec.key_tag(other) and candidate.public_key != other.public_key:
            return replace(candidate, key_tag=dnssec.key_tag(candidate))
    raise AssertionError("no tag twin found")


def _bad_signature(bundle_index, signature_index=0, **changes):
    bundle = BASE.bundles[bundle_index]
    signatures = list(bundle.signatures)
    signatures[signature_index] = replace(signatures[signature_index], **changes)
    return with_bundle(BASE, bundle_index, signatures=tuple(signatures))


# (check that must fail, bundles the messages must name (None: no bundle in particular), the case)
FAILING = {
    "domain not accepted": ("KSR-DOMAIN", None, _case(replace(BASE, domain="example."))),
    "repeated bundle id": (
        "KSR-BUNDLE-UNIQUE",
        {3},
        _case(with_bundle(BASE, 2, id=BASE.bundles[1].id)),
    ),
    "keyTag attribute wrong": (
        "KSR-BUNDLE-KEYS",
        {1},
        _case(with_key_everywhere(BASE, ZSK3.key_identifier, key_tag=ZSK3.key_tag ^ 1)),
    ),
    "ZSK flags 257": (
        "KSR-BUNDLE-KEYS",
        {1},
        _case(with_key_everywhere(BASE, ZSK3.key_identifier, flags=257)),
    ),
    "protocol 2": ("KSR-BUNDLE-KEYS", {1}, _case(with_key_everywhere(BASE, ZSK3.key_identifier, protocol=2))),
    "one identifier, two keys": (
        "KSR-BUNDLE-KEYS",
        {4},
        _case(with_bundle(BASE, 3, keys=(replace(ZSK3, public_key=ZSK2.public_key),))),
    ),
    "two identifiers, one key": (
        "KSR-BUNDLE-KEYS",
        {1},
        _case(with_key_everywhere(BASE, ZSK2.key_identifier, public_key=ZSK3.public_key, key_tag=ZSK3.key_tag)),
    ),
    "key tag clash": (
        "KSR-BUNDLE-KEYS",
        {1},
        _case(with_key_everywhere(BASE, ZSK2.key_identifier, **vars(_tag_twin(ZSK2, ZSK3)) | {"key_identifier": ZSK2.key_identifier})),
    ),
    "exponent differs from the declared one": (
        "KSR-BUNDLE-KEYS",
        {1, 9},
        _case(_with_claims(algorithms=(AlgorithmPolicy(8, rsa_size=2048, rsa_exponent=3),))),
    ),
    "size differs from the declared one": (
        "KSR-BUNDLE-KEYS",
        {1, 9},
        _case(_with_claims(algorithms=(AlgorithmPolicy(8, rsa_size=4096, rsa_exponent=65537),))),
    ),
    "algorithm not declared": (
        "KSR-BUNDLE-KEYS",
        {1, 9},
        _case(_with_claims(algorithms=(AlgorithmPolicy(10, rsa_size=2048, rsa_exponent=65537),))),
    ),
    "signature bit flipped": (
        "KSR-BUNDLE-POP",
        {5},
        _case(_bad_signature(4, signature_data=flip_bit(BASE.bundles[4].signatures[0].signature_data, 77))),
    ),
    "key has not signed": (
        "KSR-BUNDLE-POP",
        {9},
        _case(with_bundle(BASE, 8, signatures=BASE.bundles[8].signatures[:1])),
    ),
    "signature by a key not in the bundle": (
        "KSR-BUNDLE-POP",
        {2},
        _case(_bad_signature(1, key_identifier="00ff")),
    ),
    "eight bundles": ("KSR-BUNDLE-COUNT", None, _case(replace(BASE, bundles=BASE.bundles[:8]))),
    "cycle too long": ("KSR-BUNDLE-CYCLE-DURATION", {1, 9}, _case(_shift(8, 2 * DAY))),
    "cycle too short": ("KSR-BUNDLE-CYCLE-DURATION", {1, 9}, _case(_shift(8, -2 * DAY))),
    "bundle 2 keys missing": (
        "KSR-POLICY-KEYS",
        {1},
        _case(with_bundle(BASE, 0, keys=BASE.bundles[0].keys[:1], signatures=BASE.bundles[0].signatures[:1])),
    ),
    "four distinct keys wanted": ("KSR-POLICY-KEYS", None, _case(policy=replace(ROOT, distinct_keys=4))),
    "interval too long": ("KSR-POLICY-BUNDLE-INTERVALS", {5, 6}, _case(_shift(4, -2 * DAY))),
    "algorithm not approved": ("KSR-POLICY-ALG", None, _case(policy=replace(ROOT, algorithms=(dnssec.RSASHA512,)))),
    "RSA size not approved": ("KSR-POLICY-ALG", {1, 9}, _case(policy=replace(ROOT, rsa_sizes=(4096,)))),
    "RSA exponent not approved": ("KSR-POLICY-ALG", {1, 9}, _case(policy=replace(ROOT, rsa_exponents=(3,)))),
    "deprecated algorithm declared": (
        "KSR-POLICY-ALG",
        None,
        _case(_with_claims(algorithms=BASE.zsk_policy.algorithms + (AlgorithmPolicy(dnssec.RSASHA1, 2048, 65537),))),
    ),
    "bundle too long": (
        "KSR-POLICY-SIG-VALIDITY",
        {4},
        _case(with_bundle(BASE, 3, expiration=BASE.bundles[3].expiration + DAY)),
    ),
    "request widens its validity": (
        "KSR-POLICY-SIG-VALIDITY",
        None,
        _case(_with_claims(max_signature_validity=30 * DAY)),
    ),
    "request claims min above max": (
        "KSR-POLICY-SIG-VALIDITY",
        None,
        _case(_with_claims(min_signature_validity=22 * DAY)),
    ),
    "overlap too small": (
        "KSR-POLICY-SIG-OVERLAP",
        {3},
        _case(with_bundle(BASE, 1, expiration=BASE.bundles[1].expiration - 3 * DAY)),
    ),
    "request widens its overlap": (
        "KSR-POLICY-SIG-OVERLAP",
        None,
        _case(_with_claims(max_validity_overlap=20 * DAY)),
    ),
    "request narrows its overlap below the bundles'": (
        "KSR-POLICY-SIG-OVERLAP",
        {2, 3, 4, 5, 6, 7, 8, 9},
        _case(_with_claims(max_validity_overlap=10 * DAY)),
    ),
    "TTL 3600": ("KSR-POLICY-TTL", {1}, _case(with_key_everywhere(BASE, ZSK2.key_identifier, ttl=3600))),
    "expires beyond 180 days": ("KSR-POLICY-SIG-HORIZON", {9}, _case(now=NOW_2017_Q2 - 80 * DAY)),
    "already expired": ("KSR-POLICY-SIG-HORIZON", {1, 2}, _case(now=NOW_2017_Q2 + 32 * DAY)),
    "previous response signature flipped": (
        "SKR-VERIFY",
        {9},
        _case(
            previous=with_bundle(
                PREVIOUS,
                8,
                signatures=(
                    replace(
                        PREVIOUS.bundles[8].signatures[0],
                        signature_data=flip_bit(PREVIOUS.bundles[8].signatures[0].signature_data, 1000),
                    ),
                ),
            )
        ),
    ),
    "request id reused": ("KSR-CHAIN-ID", None, _case(replace(BASE, id=PREVIOUS.id))),
    "bundle id reused": ("KSR-CHAIN-ID", {1}, _case(with_bundle(BASE, 0, id=PREVIOUS.bundles[3].id))),
    "unrelated previous response": ("KSR-CHAIN-KEYS", {1}, _case(previous=response(SKR_2018_Q1))),
    "first bundle lacks the post-published key": (
        "KSR-CHAIN-KEYS",
        {1},
        _case(with_bundle(BASE, 0, keys=BASE.bundles[0].keys[:1], signatures=BASE.bundles[0].signatures[:1])),
    ),
    "chain overlap below policy": ("KSR-CHAIN-OVERLAP", {1}, _case(policy=replace(ROOT, overlap=replace(ROOT.overlap, low=11 * DAY)))),
}


def test_every_check_has_a_failing_case():
    covered = {check for check, _, _ in FAILING.values()}
    assert covered == {c for c, _ in REQUEST_CHECKS + CHAIN_CHECKS}


def test_the_base_case_passes_every_check():
    verdict = validate_request(**_case())
    assert verdict.valid
    assert set(verdict.checks_run) == {c for c, _ in REQUEST_CHECKS + CHAIN_CHECKS}


@pytest.mark.parametrize("name", FAILING)
def test_check_fails(name):
    check, bundles, case = FAILING[name]
    verdict = validate_request(**case)
    failures = verdict.failed(check)
    assert failures, f"{check} passed: {verdict.violations}"
    assert all(v.message and "could not complete" not in v.message for v in verdict.violations)
    if bundles is not None:
        assert bundle_numbers(v.message for v in failures) == bundles
        for v in failures:  # the bundle's id is named next to its number
            for number in bundle_numbers([v.message]):
                bundle = (case["previous"] if check == "SKR-VERIFY" else case["request"]).bundles[number - 1]
                assert f"bundle {number} ({bundle.id})" in v.message


def test_every_failure_is_reported_not_just_the_first():
    broken = _bad_signature(4, signature_data=flip_bit(BASE.bundles[4].signatures[0].signature_data, 9))
    broken = replace(with_key_everywhere(broken, ZSK2.key_identifier, ttl=3600), domain="example.")
    verdict = validate_request(**_case(broken, now=NOW_2017_Q2 + 32 * DAY))
    failed = {v.check for v in verdict.violations}
    assert {"KSR-DOMAIN", "KSR-POLICY-TTL", "KSR-POLICY-SIG-HORIZON", "KSR-BUNDLE-POP"} <= failed
    assert len(verdict.failed("KSR-POLICY-SIG-HORIZON")) == 2


def test_exponent_mismatch_passes_bundle_keys_when_the_policy_allows_it():
    declared_3 = _with_claims(algorithms=(AlgorithmPolicy(8, rsa_size=2048, rsa_exponent=3),))
    lenient = replace(ROOT, exponent_must_match_request=False, rsa_exponents=(3, 65537))
    verdict = validate_request(**_case(declared_3, policy=lenient))
    assert verdict.valid
    assert lenient.relaxations()


def test_request_claims_are_ignored_only_when_the_policy_says_so():
    widened = _with_claims(max_signature_validity=30 * DAY, max_validity_overlap=20 * DAY)
    assert not validate_request(**_case(widened)).valid
    lenient = replace(ROOT, enforce_request_claims=False)
    assert validate_request(**_case(widened, policy=lenient)).valid
    assert any("enforce_request_claims" in note for note in lenient.relaxations())
    assert ROOT.relaxations() == []


def test_a_check_that_crashes_refuses():
    broken_signature = Signature(
        key_identifier=ZSK3.key_identifier, ttl=172800, type_covered="DNSKEY", algorithm=8, labels=0,
        original_ttl=172800, expiration=None, inception=None, key_tag=ZSK3.key_tag, signers_name=".",
        signature_data=b"x",
    )
    verdict = validate_request(**_case(with_bundle(BASE, 0, signatures=(broken_signature,))))
    assert any("could not complete" in v.message for v in verdict.failed("KSR-BUNDLE-POP"))

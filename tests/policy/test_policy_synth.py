"""The checks on requests made with other algorithms (synth's generator signs fresh ZSKs)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from appliance import dnssec, synth
from appliance.policy import load_policy, validate_request, validate_response

START = datetime(2030, 1, 1, tzinfo=UTC)
ROOT = load_policy("root")


@pytest.mark.parametrize(
    "algorithm",
    [dnssec.RSASHA512, dnssec.ECDSAP256SHA256, dnssec.ECDSAP384SHA384, dnssec.ED25519],
    ids=dnssec.algorithm_name,
)
def test_other_algorithms_pass_when_the_policy_approves_them(algorithm):
    request, _ = synth.generate_request(START, algorithm=algorithm)
    approving = replace(ROOT, algorithms=(dnssec.RSASHA256, algorithm))
    assert validate_request(request, approving, now=START).violations == ()
    refused = validate_request(request, ROOT, now=START)
    assert {v.check for v in refused.violations} == {"KSR-POLICY-ALG"}


def test_generated_chain_passes_and_its_signatures_are_checked():
    first, private = synth.generate_request(START)
    second, _ = synth.generate_follow_up(first, private)
    previous, _ = synth.generate_response(first)
    now = second.bundles[0].inception
    assert validate_request(second, ROOT, previous, now).valid
    first_bundle = second.bundles[0]
    tampered = replace(first_bundle.signatures[0], signature_data=bytes(256))
    signatures = (tampered,) + first_bundle.signatures[1:]
    broken = replace(second, bundles=(replace(first_bundle, signatures=signatures),) + second.bundles[1:])
    assert {v.check for v in validate_request(broken, ROOT, previous, now).violations} == {"KSR-BUNDLE-POP"}


def test_another_zones_response_is_no_chain_evidence_nor_an_answer():
    """A validly signed SKR(n-1) for "com." whose ZSKs this root request carries on: every other
    chain check passes, KSR-CHAIN-ID names the zones. verify-skr --ksr: SKR-MATCHES-KSR does."""
    first, private = synth.generate_request(START, domain="com.")
    previous, _ = synth.generate_response(first)
    second, _ = synth.generate_follow_up(replace(first, domain="."), private)
    now = second.bundles[0].inception
    verdict = validate_request(second, ROOT, previous, now)
    assert [(v.check, v.message) for v in verdict.violations] == [(
        "KSR-CHAIN-ID", "the previous response is for domain 'com.', this request for '.': another zone's "
                        "response is no evidence for this one")]
    assert validate_request(second, ROOT, replace(previous, domain="COM"), now).failed("KSR-CHAIN-ID")
    assert validate_response(previous, request=replace(first, domain="COM")).valid  # one zone, other spelling
    assert [v.message for v in validate_response(previous, request=replace(first, domain=".")).violations] == [
        "response domain 'com.' is not the request's domain '.'"]

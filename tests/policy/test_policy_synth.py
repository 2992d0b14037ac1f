"""The checks on requests made with other algorithms (synth's generator signs fresh ZSKs)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from appliance import dnssec, synth
from appliance.policy import load_policy, validate_request

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

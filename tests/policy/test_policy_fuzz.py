"""Whatever a parsed request contains, every check finishes with a verdict of its own.

The runner turns a crashing check into a refusal, so a crash would not let a bad request through;
but it would hide the real fault from the operators. Hypothesis changes single fields of a real
request to odd values (unusable keys, unknown algorithms, reversed dates...) and asserts that no
check ever reports "could not complete".
"""

from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.model import AlgorithmPolicy
from appliance.policy import load_policy, validate_request
from tests.policy.realdata import KSR_2017_Q2, NOW_2017_Q2, SKR_2017_Q1, request, response, with_bundle

BASE = request(KSR_2017_Q2)
PREVIOUS = response(SKR_2017_Q1)
ROOT = load_policy("root")

bundle_index = st.integers(0, len(BASE.bundles) - 1)
odd_bytes = st.one_of(st.just(b""), st.binary(max_size=8), st.binary(min_size=200, max_size=300))
# Values within each wire field's range: the parser refuses anything wider (KSR-XML).
octet = st.one_of(st.integers(0, 255), st.sampled_from([0, 1, 3, 5, 8, 10, 13, 14, 15, 16, 253]))
short = st.one_of(st.integers(0, 65535), st.sampled_from([0, 1, 256, 257, 385]))
long_ = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 3600, 172800]))
size = st.one_of(st.none(), st.integers(0, 100000), st.sampled_from([3, 65537, 1024, 2048, 256, 384]))
shift = st.integers(-400, 400).map(lambda days: timedelta(days=days, seconds=days % 7))


@st.composite
def mutated_key(draw):
    index = draw(bundle_index)
    bundle = BASE.bundles[index]
    k = draw(st.integers(0, len(bundle.keys) - 1))
    field, value = draw(
        st.one_of(
            st.tuples(st.just("public_key"), odd_bytes),
            st.tuples(st.sampled_from(["algorithm", "protocol"]), octet),
            st.tuples(st.sampled_from(["flags", "key_tag"]), short),
            st.tuples(st.just("ttl"), long_),
            st.tuples(st.just("key_identifier"), st.text(max_size=5)),
        )
    )
    keys = list(bundle.keys)
    keys[k] = replace(keys[k], **{field: value})
    return with_bundle(BASE, index, keys=tuple(keys))


@st.composite
def mutated_signature(draw):
    index = draw(bundle_index)
    bundle = BASE.bundles[index]
    s = draw(st.integers(0, len(bundle.signatures) - 1))
    field, value = draw(
        st.one_of(
            st.tuples(st.just("signature_data"), odd_bytes),
            st.tuples(st.sampled_from(["algorithm", "labels"]), octet),
            st.tuples(st.just("key_tag"), short),
            st.tuples(st.just("original_ttl"), long_),
            st.tuples(st.just("type_covered"), st.sampled_from(["A", "", "dnskey"])),
            st.tuples(st.just("signers_name"), st.sampled_from(["", "example.", "a" * 70])),
            st.tuples(st.sampled_from(["inception", "expiration"]), shift.map(lambda d: bundle.inception + d)),
        )
    )
    signatures = list(bundle.signatures)
    signatures[s] = replace(signatures[s], **{field: value})
    return with_bundle(BASE, index, signatures=tuple(signatures))


@st.composite
def mutated_schedule(draw):
    index = draw(bundle_index)
    bundle = BASE.bundles[index]
    field = draw(st.sampled_from(["inception", "expiration"]))
    return with_bundle(BASE, index, **{field: getattr(bundle, field) + draw(shift)})


@st.composite
def mutated_claims(draw):
    durations = st.integers(0, 400).map(lambda days: timedelta(days=days))
    field = draw(
        st.sampled_from(
            ["min_signature_validity", "max_signature_validity", "min_validity_overlap", "max_validity_overlap"]
        )
    )
    algorithms = draw(
        st.lists(
            st.builds(AlgorithmPolicy, octet, size, size, size),
            max_size=3,
        )
    )
    policy = replace(BASE.zsk_policy, **{field: draw(durations)}, algorithms=tuple(algorithms))
    return replace(BASE, zsk_policy=policy)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_key(), mutated_signature(), mutated_schedule(), mutated_claims()))
def test_every_check_finishes_on_odd_requests(mutated):
    verdict = validate_request(mutated, ROOT, PREVIOUS, NOW_2017_Q2)
    crashed = [v for v in verdict.violations if "could not complete" in v.message]
    assert not crashed, crashed

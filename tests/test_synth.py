"""The synthetic request generator: real-looking shape, valid proofs of possession, chaining."""

import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from appliance import dnssec, synth
from appliance.formats import parse_request, parse_response, write_request, write_response
from appliance.model import Key, Response
from tests.dnspython_judge import validate_bundle

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def generated():
    return synth.generate_request(START)


def _verify_all(request):
    for bundle in request.bundles:
        assert {s.key_identifier for s in bundle.signatures} == {k.key_identifier for k in bundle.keys}
        for signature in bundle.signatures:
            (key,) = [k for k in bundle.keys if k.key_identifier == signature.key_identifier]
            dnssec.verify_signature(signature, key, bundle.keys)


def test_default_shape_is_a_root_quarter(generated):
    request, private_keys = generated
    bundles = request.bundles
    assert len(bundles) == 9
    assert [len(b.keys) for b in bundles] == [2, 1, 1, 1, 1, 1, 1, 1, 2]
    assert [b.inception for b in bundles] == [START + timedelta(days=10 * i) for i in range(9)]
    assert {b.validity for b in bundles} == {timedelta(days=21)}
    distinct = {k for b in bundles for k in b.keys}
    assert len(distinct) == 3 and set(private_keys) == {k.key_identifier for k in distinct}
    assert len({k.key_tag for k in distinct}) == 3
    current = set(bundles[0].keys) & set(bundles[4].keys) & set(bundles[-1].keys)
    assert len(current) == 1 and all(current <= set(b.keys) for b in bundles)
    for key in distinct:
        assert (key.flags, key.protocol, key.algorithm, key.ttl) == (256, 3, 8, 172800)
        assert key.key_tag == dnssec.key_tag(key)
        assert dnssec.key_size(8, key.public_key) == 2048 and dnssec.rsa_exponent(key.public_key) == 65537
    ids = [request.id] + [b.id for b in bundles]
    assert len(set(ids)) == 10 and all(uuid.UUID(i).version == 4 for i in ids)
    policy = request.zsk_policy
    assert (policy.min_signature_validity, policy.max_signature_validity) == (timedelta(days=21),) * 2
    assert (policy.min_validity_overlap, policy.max_validity_overlap) == (timedelta(days=9), timedelta(days=12))
    assert policy.algorithms[0].rsa_size == 2048 and policy.algorithms[0].rsa_exponent == 65537


def test_proofs_of_possession_verify_and_are_dated_like_real_ones(generated):
    request, _ = generated
    _verify_all(request)
    for signature in (s for b in request.bundles for s in b.signatures):
        assert signature.inception == START - timedelta(days=90)
        assert signature.expiration == START - timedelta(days=60)
        assert (signature.type_covered, signature.labels, signature.signers_name) == ("DNSKEY", 0, ".")


def test_dnspython_agrees(generated):
    request, _ = generated
    for bundle in request.bundles:
        validate_bundle(bundle)


def test_round_trips_through_xml(generated):
    request, _ = generated
    assert parse_request(write_request(request)) == request


@pytest.mark.parametrize(("algorithm", "size"), [(13, 256), (14, 384), (15, 256), (10, 2048)])
def test_other_algorithms(algorithm, size):
    request, _ = synth.generate_request(START, algorithm=algorithm, n_bundles=3)
    _verify_all(request)
    assert {k.algorithm for b in request.bundles for k in b.keys} == {algorithm}
    assert {dnssec.key_size(algorithm, k.public_key) for b in request.bundles for k in b.keys} == {size}
    (parameters,) = request.zsk_policy.algorithms
    assert (parameters.rsa_size or parameters.ecdsa_size) == size
    assert parse_request(write_request(request)) == request


def test_parameters_shape_the_request():
    request, _ = synth.generate_request(
        START, algorithm=13, n_bundles=5, interval=timedelta(days=15), validity=timedelta(days=16), domain="example.", serial=7
    )
    assert [len(b.keys) for b in request.bundles] == [2, 1, 1, 1, 2]
    assert request.bundles[-1].inception == START + timedelta(days=60)
    assert {b.validity for b in request.bundles} == {timedelta(days=16)}
    assert (request.domain, request.serial) == ("example.", 7)
    assert request.zsk_policy.min_validity_overlap == timedelta(0)
    assert request.zsk_policy.max_validity_overlap == timedelta(days=2)
    assert {s.labels for b in request.bundles for s in b.signatures} == {1}
    for bundle in request.bundles:
        for signature in bundle.signatures:
            (key,) = [k for k in bundle.keys if k.key_identifier == signature.key_identifier]
            dnssec.verify_signature(signature, key, bundle.keys, owner="example.")


def test_a_thousand_bundles():
    request, _ = synth.generate_request(START, algorithm=13, n_bundles=1000)
    assert len(request.bundles) == 1000 and len({b.id for b in request.bundles}) == 1000
    assert sum(len(b.signatures) for b in request.bundles) == 1002


def test_follow_up_chains_to_the_previous_request(generated):
    request, private_keys = generated
    follow_up, follow_keys = synth.generate_follow_up(request, private_keys)
    assert set(follow_up.bundles[0].keys) == set(request.bundles[-1].keys)
    assert follow_up.bundles[0].inception == request.bundles[-1].inception + timedelta(days=10) == START + timedelta(days=90)
    assert follow_up.serial == request.serial + 1 and follow_up.id != request.id
    assert not {b.id for b in follow_up.bundles} & {b.id for b in request.bundles}
    # The pre-published key is now in every bundle; the old current one only in the first.
    (old_next,) = set(request.bundles[-1].keys) - set(request.bundles[0].keys)
    assert all(old_next in b.keys for b in follow_up.bundles)
    _verify_all(follow_up)
    third, _ = synth.generate_follow_up(follow_up, follow_keys)
    assert set(third.bundles[0].keys) == set(follow_up.bundles[-1].keys)
    _verify_all(third)


def test_follow_up_from_a_response_ignores_its_ksks(generated):
    request, private_keys = generated
    ksk = Key("KSK", 0, 172800, 257, 3, 8, request.bundles[0].keys[0].public_key[::-1])
    last = replace(request.bundles[-1], keys=request.bundles[-1].keys + (ksk,))
    response = Response(request.id, 1, ".", request.zsk_policy, request.zsk_policy, request.bundles[:-1] + (last,))
    follow_up, _ = synth.generate_follow_up(response, private_keys, n_bundles=2)
    assert set(follow_up.bundles[0].keys) == set(request.bundles[-1].keys)


def test_follow_up_needs_the_private_keys(generated):
    request, private_keys = generated
    (old_next,) = set(request.bundles[-1].keys) - set(request.bundles[0].keys)
    without = {name: key for name, key in private_keys.items() if name != old_next.key_identifier}
    with pytest.raises(ValueError, match=f"no private key for {old_next.key_identifier}"):
        synth.generate_follow_up(request, without)


def test_sign_bundle_re_signs_a_changed_bundle(generated):
    request, private_keys = generated
    (key,) = request.bundles[3].keys
    changed = replace(request.bundles[3], keys=(replace(key, flags=257, ttl=3600),))
    with pytest.raises(dnssec.SignatureInvalid):
        dnssec.verify_signature(changed.signatures[0], changed.keys[0], changed.keys)
    resigned = synth.sign_bundle(changed, private_keys, START)
    dnssec.verify_signature(resigned.signatures[0], resigned.keys[0], resigned.keys)
    assert resigned.signatures[0].original_ttl == 3600
    assert resigned.signatures[0].key_tag == dnssec.key_tag(changed.keys[0]) != key.key_tag


def test_refusals():
    with pytest.raises(ValueError, match="at least one bundle"):
        synth.generate_request(START, n_bundles=0)
    with pytest.raises(ValueError, match="cannot generate RSASHA1"):
        synth.generate_request(START, algorithm=dnssec.RSASHA1)


def test_generated_response_verifies_and_is_laid_out_like_kskm(generated):
    request, _ = generated
    response, ksk = synth.generate_response(request)
    (ksk_key,) = {k for b in response.bundles for k in b.keys if k.flags == 257}
    for asked, answered in zip(request.bundles, response.bundles, strict=True):
        assert answered.keys == asked.keys + (ksk_key,)
        (signature,) = answered.signatures
        assert (signature.inception, signature.expiration) == (asked.inception, asked.expiration)
        dnssec.verify_signature(signature, ksk_key, answered.keys)
    written = write_response(response)
    assert parse_response(written) == response
    again, _ = synth.generate_response(request, ksk)
    assert {k for b in again.bundles for k in b.keys if k.flags == 257} == {ksk_key}


def test_root_policy_accepts_a_generated_chain(generated):
    """The generator is only useful if a correct request it makes passes every check."""
    from appliance.policy.config import load_policy
    from appliance.policy.runner import validate_request

    request, private_keys = generated
    policy = load_policy("root")
    now = START - timedelta(days=20)
    assert validate_request(request, policy, now=now).violations == ()
    previous, _ = synth.generate_response(request)
    follow_up, _ = synth.generate_follow_up(request, private_keys)
    assert validate_request(follow_up, policy, previous=previous, now=now + timedelta(days=90)).violations == ()
    unrelated, _ = synth.generate_request(follow_up.bundles[0].inception)
    chain = validate_request(unrelated, policy, previous=previous, now=now + timedelta(days=90))
    assert {v.check for v in chain.violations} == {"KSR-CHAIN-KEYS"}

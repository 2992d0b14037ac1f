"""Checks of the request's keys against the operator's policy: how many, which algorithms, what TTL.

Each function takes a RequestContext and yields one message per fault.
"""

from __future__ import annotations

from collections.abc import Iterator

from appliance import dnssec
from appliance.policy.context import RSA_ALGORITHMS, RequestContext, bundle_label, first_occurrences, key_label


def keys_per_bundle(ctx: RequestContext) -> Iterator[str]:
    """KSR-POLICY-KEYS: each bundle has the policy's number of keys; the request has N distinct keys."""
    bundles = ctx.request.bundles
    wanted = ctx.policy.keys_per_bundle
    if len(bundles) != len(wanted):
        yield (
            f"request has {len(bundles)} bundles but policy bundles.keys_per_bundle describes {len(wanted)}; "
            f"keys per bundle cannot be compared"
        )
    for index, (bundle, count) in enumerate(zip(bundles, wanted)):
        if len(bundle.keys) != count:
            yield f"{bundle_label(index, bundle)}: has {len(bundle.keys)} keys; policy wants {count}"
    distinct = {key.key_identifier for bundle in bundles for key in bundle.keys}
    if len(distinct) != ctx.policy.distinct_keys:
        yield (
            f"request has {len(distinct)} distinct keys; policy bundles.distinct_keys is "
            f"{ctx.policy.distinct_keys}"
        )


def algorithms(ctx: RequestContext) -> Iterator[str]:
    """KSR-POLICY-ALG: declared and actual algorithms, RSA sizes and exponents are ones the policy approves."""
    policy = ctx.policy
    approved = ", ".join(dnssec.algorithm_name(a) for a in policy.algorithms)
    declared_algorithms = ctx.request.zsk_policy.algorithms if ctx.request.zsk_policy else ()  # text: none
    for declared in declared_algorithms:
        where = f"request's ZSK policy declares {dnssec.algorithm_name(declared.algorithm)}"
        yield from _algorithm_problems(
            where, declared.algorithm, declared.rsa_size, declared.rsa_exponent, policy, approved
        )
    for index, bundle, key in first_occurrences(ctx.request):
        where = f"{bundle_label(index, bundle)}: {key_label(key)} uses {dnssec.algorithm_name(key.algorithm)}"
        size = exponent = None
        if key.algorithm in RSA_ALGORITHMS:
            try:
                size = dnssec.key_size(key.algorithm, key.public_key)
                exponent = dnssec.rsa_exponent(key.public_key)
            except dnssec.SignatureInvalid as exc:
                yield f"{where}: unusable public key ({exc})"
                continue
        yield from _algorithm_problems(where, key.algorithm, size, exponent, policy, approved)


def _algorithm_problems(where, algorithm, rsa_size, rsa_exponent, policy, approved) -> Iterator[str]:
    if algorithm in dnssec.DEPRECATED_ALGORITHMS:
        yield f"{where}, which is deprecated (RFC 8624) and always refused"
        return
    if algorithm not in policy.algorithms:
        yield f"{where}, not in policy keys.algorithms [{approved}]"
        return
    if algorithm in RSA_ALGORITHMS:
        if rsa_size not in policy.rsa_sizes:
            yield f"{where} with RSA-{rsa_size}; policy keys.rsa_sizes is {list(policy.rsa_sizes)}"
        if rsa_exponent not in policy.rsa_exponents:
            yield f"{where} with exponent {rsa_exponent}; policy keys.rsa_exponents is {list(policy.rsa_exponents)}"


def key_ttl(ctx: RequestContext) -> Iterator[str]:
    """KSR-POLICY-TTL: every DNSKEY carries the policy's TTL."""
    for index, bundle, key in first_occurrences(ctx.request):
        if key.ttl != ctx.policy.key_ttl:
            yield f"{bundle_label(index, bundle)}: {key_label(key)} has TTL {key.ttl}; policy keys.ttl is {ctx.policy.key_ttl}"

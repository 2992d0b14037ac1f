"""Checks on the request itself: its domain, its bundle ids, its keys and their proofs of possession.

Each function takes a RequestContext and yields one message per fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from appliance import dnssec
from appliance.model import Bundle, Key
from appliance.policy.context import (
    RSA_ALGORITHMS,
    RequestContext,
    bundle_label,
    first_occurrences,
    key_label,
    short_identifier,
)


def domain(ctx: RequestContext) -> Iterator[str]:
    """KSR-DOMAIN: the request is for a domain the policy accepts."""
    accepted = {_normal_name(d) for d in ctx.policy.domains}
    if _normal_name(ctx.request.domain) not in accepted:
        yield f"request domain {ctx.request.domain!r} is not in policy domains {list(ctx.policy.domains)}"


def _normal_name(name: str) -> str:
    # DNS names compare case-insensitively, with or without the final dot ("." stays ".").
    return name.strip().lower().rstrip(".") + "."


def unique_bundles(ctx: RequestContext) -> Iterator[str]:
    """KSR-BUNDLE-UNIQUE: no two bundles share an id (logs and responses refer to bundles by id)."""
    first_seen: dict[str, int] = {}
    for index, bundle in enumerate(ctx.request.bundles):
        if bundle.id in first_seen:
            yield f"{bundle_label(index, bundle)}: same id as bundle {first_seen[bundle.id] + 1}"
        else:
            first_seen[bundle.id] = index


def _differences(a: Key, b: Key) -> str:
    names = ("key_tag", "ttl", "flags", "protocol", "algorithm", "public_key")
    return ", ".join(n.replace("_", " ") for n in names if getattr(a, n) != getattr(b, n))


def bundle_keys(ctx: RequestContext) -> Iterator[str]:
    """KSR-BUNDLE-KEYS: keys are consistent across bundles and match the request's declared policy."""
    by_identifier: dict[str, tuple[int, Key]] = {}
    by_public_key: dict[tuple[int, bytes], str] = {}
    by_tag: dict[int, tuple[int, bytes]] = {}
    for index, bundle, key in first_occurrences(ctx.request):
        where = f"{bundle_label(index, bundle)}: {key_label(key)}"
        if key.key_identifier in by_identifier:
            first_index, first = by_identifier[key.key_identifier]
            yield (
                f"{where}: {_differences(first, key)} not the same as for this identifier in "
                f"bundle {first_index + 1}"
            )
            continue
        by_identifier[key.key_identifier] = (index, key)
        owner = by_public_key.setdefault((key.algorithm, key.public_key), key.key_identifier)
        if owner != key.key_identifier:
            yield f"{where} has the same public key as identifier {short_identifier(owner)}"
        computed = dnssec.key_tag(key)
        identity = (key.algorithm, key.public_key)
        # A tag names one key in its plain and its revoked form (RFC 4034 8, RFC 5011 2.1).
        flagged = dnssec.key_tag(replace(key, flags=key.flags ^ dnssec.FLAG_REVOKE))
        for tag, form in ((computed, ""), (flagged, " revoked")):
            if by_tag.setdefault(tag, identity) != identity:
                yield f"{where}: key tag {tag} (of the key{form}) clashes with another key's tag in this request"
        encoding = dnssec.key_encoding_problem(key.algorithm, key.public_key)
        if encoding:
            yield f"{where}: public key not in canonical form: {encoding}"
        if key.key_tag != computed:
            yield f"{where}: keyTag attribute is {key.key_tag}, the key's computed tag is {computed}"
        if key.flags != dnssec.FLAG_ZONE:
            yield f"{where}: flags {key.flags}, a ZSK must have flags {dnssec.FLAG_ZONE}"
        if key.protocol != 3:
            yield f"{where}: protocol {key.protocol}, DNSKEY protocol must be 3"
        yield from _matches_declared_policy(ctx, where, key)


def _matches_declared_policy(ctx: RequestContext, where: str, key: Key) -> Iterator[str]:
    """The key's algorithm and parameters are among the request's own <SignatureAlgorithm>s."""
    declared = [a for a in ctx.request.zsk_policy.algorithms if a.algorithm == key.algorithm]
    if not declared:
        yield f"{where}: {dnssec.algorithm_name(key.algorithm)} is not an algorithm the request declares"
        return
    try:
        size = dnssec.key_size(key.algorithm, key.public_key)
        exponent = dnssec.rsa_exponent(key.public_key) if key.algorithm in RSA_ALGORITHMS else None
    except dnssec.SignatureInvalid as exc:
        yield f"{where}: unusable public key ({exc})"
        return
    if key.algorithm in RSA_ALGORITHMS:
        sized = [a for a in declared if a.rsa_size == size]
        if not sized:
            declared_sizes = sorted({a.rsa_size for a in declared if a.rsa_size})
            yield f"{where}: RSA-{size}, but the request declares RSA sizes {declared_sizes}"
        elif ctx.policy.exponent_must_match_request and all(a.rsa_exponent != exponent for a in sized):
            declared_exponents = sorted({a.rsa_exponent for a in sized if a.rsa_exponent})
            yield (
                f"{where}: RSA exponent {exponent}, but the request declares {declared_exponents} "
                f"(policy keys.exponent_must_match_request is true)"
            )
    elif all(a.ecdsa_size not in (None, size) for a in declared):
        yield f"{where}: {size}-bit key, but the request declares other sizes for this algorithm"


def proof_of_possession(ctx: RequestContext) -> Iterator[str]:
    """KSR-BUNDLE-POP: in every bundle, every signature verifies and every key has signed.

    As in ICANN's tools, the inception and expiration inside these signatures are not checked:
    they only prove the ZSK operator holds each private key.
    """
    if not ctx.request.bundles:
        yield "the request has no bundles: there is nothing to prove possession of"
    for index, bundle in enumerate(ctx.request.bundles):
        yield from bundle_signature_problems(bundle_label(index, bundle), bundle, ctx.request.domain)
        signers = {s.key_identifier for s in bundle.signatures}
        for key in bundle.keys:
            if key.key_identifier not in signers:
                yield f"{bundle_label(index, bundle)}: {key_label(key)} has not signed the bundle"


def bundle_signature_problems(label: str, bundle: Bundle, owner: str) -> Iterator[str]:
    """Every signature in a bundle is by a key of that bundle and validates its DNSKEY RRset, owned
    by the zone apex `owner` (`dnssec.verify_signature`: every RRSIG field, then the cryptography)."""
    keys = {key.key_identifier: key for key in bundle.keys}
    if not bundle.signatures:
        yield f"{label}: no signatures"
    for signature in bundle.signatures:
        key = keys.get(signature.key_identifier)
        if key is None:
            yield (
                f"{label}: signature with key tag {signature.key_tag} names identifier "
                f"{short_identifier(signature.key_identifier)}, which is not a key in this bundle"
            )
            continue
        try:
            dnssec.verify_signature(signature, key, bundle.keys, owner)
        except (dnssec.SignatureInvalid, ValueError) as exc:  # ValueError: a signer name not encodable
            yield f"{label}: {key_label(key)}: {exc}"

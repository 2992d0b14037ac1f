"""Checks on a Signed Key Response: its signatures, who made them, and whether it answers a request.

Each function takes a ResponseContext and yields one message per fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from appliance import dnssec
from appliance.model import Bundle, Key, Response
from appliance.policy.config import Policy
from appliance.policy.context import (
    ResponseContext,
    bundle_label,
    duration,
    is_zsk,
    key_label,
    same_domain,
    timestamp,
)
from appliance.policy.request_checks import bundle_signature_problems

# A response has no policy file of its own; the root policy's horizon is the yardstick.
_HORIZON = Policy().horizon


def response_signature_problems(response: Response, revoked_only_signers: bool = False) -> Iterator[str]:
    """Every key's keyTag attribute is its computed tag, every RRSIG validates its bundle's DNSKEY
    RRset and is valid exactly for the bundle's period, and every bundle carries at least one valid
    signature by a KSK that is not revoked.

    A response without bundles fails: a check that found nothing to judge never passes."""
    if not response.bundles:
        yield "the response has no bundles"
    for index, bundle in enumerate(response.bundles):
        label = bundle_label(index, bundle)
        for key in bundle.keys:  # the attribute is outside the signed data; tables and JSON show it
            if key.key_tag != dnssec.key_tag(key):
                yield f"{label}: {key_label(key)}: keyTag attribute is {key.key_tag}, the key's computed tag is {dnssec.key_tag(key)}"
        yield from bundle_signature_problems(label, bundle, response.domain)
        for signature in bundle.signatures:
            if (signature.inception, signature.expiration) != (bundle.inception, bundle.expiration):
                yield (
                    f"{label}: signature with key tag {signature.key_tag} is valid "
                    f"{timestamp(signature.inception)} to {timestamp(signature.expiration)}, "
                    f"not the bundle's {timestamp(bundle.inception)} to {timestamp(bundle.expiration)}"
                )
        if not ksk_signers(bundle, response.domain, revoked_only_signers):
            yield f"{label}: {_no_ksk_signature(bundle)}"


def ksk_signers(bundle: Bundle, owner: str, revoked_too: bool = False) -> list[Key]:
    """The keys whose signature on the bundle is KSK evidence: a valid RRSIG by a key with the SEP
    and Zone flags and without REVOKE (a revoked KSK's signature proves only its own revocation,
    RFC 5011 2.1), whose key the same bundle does not also publish revoked (the RRset then says the
    key is revoked, whichever form signed). `revoked_too` counts revoked KSKs as well, for the one
    legacy schema that reproduces such a file."""
    keys = {key.key_identifier: key for key in bundle.keys}
    revoked_here = {(k.algorithm, k.public_key) for k in bundle.keys if k.flags & dnssec.FLAG_REVOKE}
    found = []
    for signature in bundle.signatures:
        key = keys.get(signature.key_identifier)
        if key is None or key in found or not is_usable_ksk(_unrevoked(key) if revoked_too else key):
            continue
        if not revoked_too and (key.algorithm, key.public_key) in revoked_here:
            continue
        try:
            dnssec.verify_signature(signature, key, bundle.keys, owner)
        except (dnssec.SignatureInvalid, ValueError):
            continue  # SKR-VERIFY names it
        found.append(key)
    return found


def _unrevoked(key: Key) -> Key:
    return replace(key, flags=key.flags & ~dnssec.FLAG_REVOKE)


def is_usable_ksk(key: Key) -> bool:
    """A KSK whose signature may stand for a bundle: SEP and Zone flags set, REVOKE clear."""
    return (key.flags & (dnssec.FLAG_SEP | dnssec.FLAG_ZONE | dnssec.FLAG_REVOKE)
            == dnssec.FLAG_SEP | dnssec.FLAG_ZONE)


def _no_ksk_signature(bundle: Bundle) -> str:
    signers = {s.key_identifier for s in bundle.signatures}
    revoked_here = {(k.algorithm, k.public_key) for k in bundle.keys if k.flags & dnssec.FLAG_REVOKE}
    by = [key_label(k) + (" (revoked)" if k.flags & dnssec.FLAG_REVOKE
                          else " (also published revoked)" if (k.algorithm, k.public_key) in revoked_here
                          else "" if k.flags & dnssec.FLAG_SEP else " (not a KSK)")
          for k in bundle.keys if k.key_identifier in signers]
    return f"no valid signature by a KSK that is not revoked (signed by {', '.join(by) or 'no key of the bundle'})"


def signatures(ctx: ResponseContext) -> Iterator[str]:
    """SKR-VERIFY: every signature in the response validates, every bundle has a KSK's."""
    yield from response_signature_problems(ctx.response, ctx.revoked_only_signers)


def trust_anchor(ctx: ResponseContext) -> Iterator[str]:
    """SKR-TRUST-ANCHOR: every bundle carries a valid signature by a non-revoked KSK a trust anchor
    names, that anchor being valid (validFrom/validUntil) at the bundle's inception."""
    owner = ctx.response.domain
    if not ctx.trust_anchors:
        yield "no trust anchor was given: nothing to judge the signatures by"
    if not ctx.response.bundles:
        yield "the response has no bundles"
    for index, bundle in enumerate(ctx.response.bundles):
        trusted = [key for key in ksk_signers(bundle, owner, ctx.revoked_only_signers)
                   if any(a.matches(_unrevoked(key) if ctx.revoked_only_signers else key, owner)
                          and a.valid_at(bundle.inception) for a in ctx.trust_anchors)]
        if not trusted:
            signers = {s.key_identifier for s in bundle.signatures}
            by = ", ".join(key_label(k) for k in bundle.keys if k.key_identifier in signers) or "no key of the bundle"
            yield (
                f"{bundle_label(index, bundle)}: no valid signature by a non-revoked KSK that a trust anchor "
                f"names for {timestamp(bundle.inception)} (signed by {by})"
            )


def answers_request(ctx: ResponseContext) -> Iterator[str]:
    """SKR-MATCHES-KSR: same domain, same id, and the same bundles in order with the same dates and ZSKs."""
    request, response = ctx.request, ctx.response
    if not same_domain(response.domain, request.domain):
        yield f"response domain {response.domain!r} is not the request's domain {request.domain!r}"
    if response.id != request.id:
        yield f"response id {response.id} is not the request's id {request.id}"
    if len(response.bundles) != len(request.bundles):
        yield f"response has {len(response.bundles)} bundles, the request {len(request.bundles)}"
    for index, (asked, answered) in enumerate(zip(request.bundles, response.bundles)):
        label = bundle_label(index, answered)
        if answered.id != asked.id:
            yield f"{label}: the request's bundle {index + 1} has id {asked.id}"
        if (answered.inception, answered.expiration) != (asked.inception, asked.expiration):
            yield (
                f"{label}: {timestamp(answered.inception)} to {timestamp(answered.expiration)}, the request "
                f"asked for {timestamp(asked.inception)} to {timestamp(asked.expiration)}"
            )
        asked_zsks = {dnssec.dnskey_rdata(k): k for k in asked.keys}
        answered_zsks = {dnssec.dnskey_rdata(k): k for k in answered.keys if is_zsk(k)}
        for rdata in sorted(asked_zsks.keys() - answered_zsks.keys()):
            yield f"{label}: requested ZSK {key_label(asked_zsks[rdata])} is missing"
        for rdata in sorted(answered_zsks.keys() - asked_zsks.keys()):
            yield f"{label}: ZSK {key_label(answered_zsks[rdata])} was not in the request"


def horizon(ctx: ResponseContext) -> Iterator[str]:
    """SKR-HORIZON (with --now): no bundle has expired, none expires beyond the root horizon from now."""
    limit = ctx.now + _HORIZON
    for index, bundle in enumerate(ctx.response.bundles):
        if bundle.expiration <= ctx.now:
            yield f"{bundle_label(index, bundle)}: expired {timestamp(bundle.expiration)}, before now ({timestamp(ctx.now)})"
        elif bundle.expiration > limit:
            yield (
                f"{bundle_label(index, bundle)}: expires {timestamp(bundle.expiration)}, more than "
                f"{duration(_HORIZON)} after now ({timestamp(ctx.now)})"
            )

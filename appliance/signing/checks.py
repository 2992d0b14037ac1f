"""Checks that need the HSM, the signing configuration or the previous response, run before signing.

Each function takes a SigningContext and yields one message per fault; appliance.policy's runner
runs them all, so every fault is shown at once, and nothing is signed while any remains.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from appliance import dnssec
from appliance.hsm import HsmKey
from appliance.model import Key, KeyPolicy, Request, Response
from appliance.policy.context import bundle_label, duration, first_occurrences, is_zsk, timestamp
from appliance.signing.bundles import PlannedBundle
from appliance.signing.config import KskDefinition


@dataclass(frozen=True)
class SigningContext:
    request: Request
    plan: tuple[PlannedBundle, ...]
    definitions: Mapping[str, KskDefinition]  # the KSKs the schema uses, by name
    hsm_keys: Mapping[str, HsmKey]  # the HSM's private key for each of them
    token_keys: tuple[HsmKey, ...]  # every private key on the token
    ksk_policy: KeyPolicy
    ksk_ttl: int
    previous: Response | None = None


def _same_key(a: Key, b: Key) -> bool:
    """The same key pair, whatever the flags (a revoked KSK is still the same key)."""
    return (a.algorithm, a.public_key) == (b.algorithm, b.public_key)


def _signing_keys(bundle) -> list[Key]:
    """The keys in a response bundle that made its signatures."""
    found = []
    for signature in bundle.signatures:
        found += [k for k in bundle.keys if k.key_tag == signature.key_tag
                  and k.key_identifier == signature.key_identifier and not is_zsk(k)]
    return found


def ksk_mismatch(ctx: SigningContext) -> Iterator[str]:
    """KSK-MISMATCH: each KSK in the HSM matches its definition, and signs only within its validity."""
    for name, definition in ctx.definitions.items():
        yield from definition.mismatches(ctx.hsm_keys[name], ctx.request.domain)
    for index, planned in enumerate(ctx.plan):
        bundle = planned.request_bundle
        for name, _ in planned.signers:
            definition = ctx.definitions[name]
            if bundle.inception < definition.valid_from:
                yield (f"{bundle_label(index, bundle)}: KSK {name} would sign from {timestamp(bundle.inception)}, "
                       f"before its valid_from {timestamp(definition.valid_from)}")
            if definition.valid_until is not None and bundle.expiration > definition.valid_until:
                yield (f"{bundle_label(index, bundle)}: KSK {name} would sign until {timestamp(bundle.expiration)}, "
                       f"after its valid_until {timestamp(definition.valid_until)}")


def rrset_ttl(ctx: SigningContext) -> Iterator[str]:
    """SKR-TTL: the request's keys carry the KSK TTL, since one RRset has one TTL."""
    for index, bundle, key in first_occurrences(ctx.request):
        if key.ttl != ctx.ksk_ttl:
            yield (f"{bundle_label(index, bundle)}: key {key.key_tag} has TTL {key.ttl}, "
                   f"the signing configuration's KSK TTL is {ctx.ksk_ttl}")


def signers_stay_published(ctx: SigningContext) -> Iterator[str]:
    """KSR-POLICY-SAFETY: a KSK that signs a bundle is published in every later one, until it is revoked."""
    for index, planned in enumerate(ctx.plan):
        for name, key in planned.signers:
            if key.flags & dnssec.FLAG_REVOKE:
                continue  # a revoked KSK signs only its own revocation, and may then go
            for later_index in range(index + 1, len(ctx.plan)):
                later = ctx.plan[later_index]
                present = [k for k in later.keys if _same_key(k, key)]
                if any(k.flags & dnssec.FLAG_REVOKE for k in present):
                    break  # revoked: from here on the key may go
                if not present:
                    yield (f"{bundle_label(later_index, later.request_bundle)}: KSK {name} ({key.key_identifier}), "
                           f"which signs bundle {index + 1}, is no longer published")
                    break


def publish_and_retire_safety(ctx: SigningContext) -> Iterator[str]:
    """KSR-POLICY-SAFETY (with SKR(n-1)): a new signer was pre-published long enough, an old one retires late enough."""
    if not ctx.plan or not ctx.previous.bundles:
        return
    last = ctx.previous.bundles[-1]
    first = ctx.plan[0]
    # Publish safety: the KSKs signing the first bundle were already published in the previous last
    # bundle, and the first inception minus PublishSafety falls while that bundle was valid.
    for name, key in first.signers:
        if not any(_same_key(k, key) for k in last.keys):
            yield (f"bundle 1 ({first.request_bundle.id}): KSK {name} ({key.key_identifier}, tag {key.key_tag}) "
                   f"signs it but was not published in the previous response's last bundle ({last.id})")
    published_at = first.request_bundle.inception - ctx.ksk_policy.publish_safety
    if not last.inception <= published_at <= last.expiration:
        yield (f"bundle 1 inception {timestamp(first.request_bundle.inception)} minus PublishSafety "
               f"{duration(ctx.ksk_policy.publish_safety)} is {timestamp(published_at)}, outside the previous "
               f"response's last bundle ({timestamp(last.inception)} to {timestamp(last.expiration)})")
    # Retire safety: the KSKs that signed the previous last bundle stay published for RetireSafety.
    retire_until = first.request_bundle.inception + ctx.ksk_policy.retire_safety
    for old in _signing_keys(last):
        for index, planned in enumerate(ctx.plan):
            if planned.request_bundle.inception > retire_until:
                break
            if not any(_same_key(k, old) for k in planned.keys):
                yield (f"{bundle_label(index, planned.request_bundle)}: KSK {old.key_identifier} (tag {old.key_tag}), "
                       f"which signed the previous response's last bundle, must stay published until "
                       f"{timestamp(retire_until)} (RetireSafety {duration(ctx.ksk_policy.retire_safety)})")


def previous_signers_in_hsm(ctx: SigningContext) -> Iterator[str]:
    """KSR-CHAIN-KEYS (validating last SKR with HSM): the KSKs that signed SKR(n-1)'s last bundle are in the HSM."""
    if not ctx.previous.bundles:
        return
    last = ctx.previous.bundles[-1]
    on_token = [k.dnskey(algorithm=a) for k in ctx.token_keys if k.public_key is not None for a in k.algorithms]
    for old in _signing_keys(last):
        if not any(_same_key(k, old) for k in on_token):
            yield (f"validating last SKR with HSM: KSK {old.key_identifier} (tag {old.key_tag}), which signed the "
                   f"previous response's last bundle ({last.id}), is not in the HSM with the same public key")


SIGNING_CHECKS = (
    ("KSK-MISMATCH", ksk_mismatch),
    ("SKR-TTL", rrset_ttl),
    ("KSR-POLICY-SAFETY", signers_stay_published),
)
PREVIOUS_RESPONSE_CHECKS = (
    ("KSR-POLICY-SAFETY", publish_and_retire_safety),
    ("KSR-CHAIN-KEYS", previous_signers_in_hsm),
)

"""Checks that need the HSM, the signing configuration or the previous response, run before signing.

Each function takes a SigningContext and yields one message per fault; appliance.policy's runner
runs them all, so every fault is shown at once, and nothing is signed while any remains.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from appliance import dnssec
from appliance.model import Key, KeyPolicy, Request, Response
from appliance.policy.context import bundle_label, duration, first_occurrences, is_zsk, key_label, timestamp
from appliance.policy.response_checks import ksk_signers
from appliance.policy.runner import run_checks
from appliance.signing.bundles import PlannedBundle
from appliance.signing.config import KskDefinition
from appliance.text import shown

if TYPE_CHECKING:
    from appliance.hsm.keys import HsmKey


@dataclass(frozen=True, eq=False, repr=False)  # what the checks read: as policy.context.RequestContext
class SigningContext:
    request: Request
    plan: tuple[PlannedBundle, ...]
    definitions: Mapping[str, KskDefinition]  # the KSKs the schema uses, by name
    hsm_keys: Mapping[str, HsmKey]  # the HSM's private key for each of them
    token_keys: tuple[HsmKey, ...]  # every private key on the token
    ksk_policy: KeyPolicy
    ksk_ttl: int
    previous: Response | None = None
    configured: Mapping[str, KskDefinition] = field(default_factory=dict)  # every KSK the configuration defines


def _same_key(a: Key, b: Key) -> bool:
    """The same key pair, whatever the flags (a revoked KSK is still the same key)."""
    return (a.algorithm, a.public_key) == (b.algorithm, b.public_key)


def _signing_keys(bundle) -> list[Key]:
    """The KSKs in a response bundle that made its signatures, known by their computed tag: the
    keyTag attribute is outside the signed data, so a stick may rewrite it."""
    found = []
    for signature in bundle.signatures:
        found += [k for k in bundle.keys if dnssec.key_tag(k) == signature.key_tag
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


def ksk_kept_in_hsm(ctx: SigningContext) -> Iterator[str]:
    """KSK-SENSITIVE: each signing KSK's private key is sensitive and never extractable, and always
    was, unless its definition says allow_extractable = true (then ksk_exposure_notes says so)."""
    for name, definition in ctx.definitions.items():
        exposure = ctx.hsm_keys[name].exposure()
        if exposure and not definition.allow_extractable:
            yield (f"KSK {name} (HSM label '{shown(definition.label)}'): its private key is {', '.join(exposure)}, "
                   f"so it can leave the HSM; refused unless [keys.{name}] sets allow_extractable = true")


def ksk_exposure_notes(definitions: Mapping[str, KskDefinition], hsm_keys: Mapping[str, HsmKey]) -> list[str]:
    """A NOTE for each KSK signing although its private key can leave the HSM (allowed by its definition)."""
    return [f"KSK {name} (HSM label '{shown(definition.label)}') signs although its private key is "
            f"{', '.join(hsm_keys[name].exposure())}: allowed by allow_extractable in its definition"
            for name, definition in definitions.items()
            if name in hsm_keys and definition.allow_extractable and hsm_keys[name].exposure()]


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
        yield "the plan or the previous response has no bundles: nothing shows the KSKs were published in time"
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
                yield (f"{bundle_label(index, planned.request_bundle)}: KSK {old.key_identifier} (tag {dnssec.key_tag(old)}), "
                       f"which signed the previous response's last bundle, must stay published until "
                       f"{timestamp(retire_until)} (RetireSafety {duration(ctx.ksk_policy.retire_safety)})")


def previous_signers_in_hsm(ctx: SigningContext) -> Iterator[str]:
    """KSR-CHAIN-KEYS (validating last SKR with HSM): every bundle of SKR(n-1) carries a valid signature
    by a non-revoked KSK that the signing configuration defines and the HSM holds with the same
    public key. Only that makes the previous response evidence of what our KSK signed."""
    if not ctx.previous.bundles:
        yield "validating last SKR with HSM: the previous response has no bundles, nothing shows our KSK signed it"
        return
    on_token = [k.dnskey(algorithm=a) for k in ctx.token_keys if k.public_key is not None for a in k.algorithms]
    configured = ctx.configured or ctx.definitions
    foreign: dict[Key, list[int]] = {}  # a valid KSK signer that is not ours: the bundles it signed
    for index, bundle in enumerate(ctx.previous.bundles):
        signers = ksk_signers(bundle, ctx.previous.domain)
        if not signers:
            yield (f"validating last SKR with HSM: previous response {bundle_label(index, bundle)} has no valid "
                   "signature by a non-revoked KSK")
        elif not any(_ours(k, configured, on_token, ctx.previous.domain) for k in signers):
            for key in signers:
                foreign.setdefault(key, []).append(index + 1)
    for key, numbers in foreign.items():
        where = "is not in the HSM with the same public key"
        if not _defined(key, configured, ctx.previous.domain):
            where = "is not a KSK of the signing configuration"
        yield (f"validating last SKR with HSM: KSK {key.key_identifier} (tag {dnssec.key_tag(key)}), which alone "
               f"signed bundle(s) {', '.join(map(str, numbers))} of the previous response, {where}")


def _ours(key: Key, configured: Mapping[str, KskDefinition], on_token: list[Key], owner: str) -> bool:
    return _defined(key, configured, owner) and any(_same_key(t, key) for t in on_token)


def _defined(key: Key, configured: Mapping[str, KskDefinition], owner: str) -> bool:
    """Whether the signing configuration defines `key` (key tag, algorithm and DS SHA-256)."""
    return any((d.key_tag, d.algorithm, d.ds_sha256) == (dnssec.key_tag(key), key.algorithm, dnssec.ds_sha256(key, owner))
               for d in configured.values())


def key_tag_clashes(ctx: SigningContext) -> Iterator[str]:
    """KSR-KEY-TAGS: no two distinct keys among the request, SKR(n-1), the plan and the configured
    KSKs share a key tag, each key counted in its plain and its revoked form (RFC 4034 8: a tag
    does not identify a key; ldns, hickory-dns and others pick the wrong key when two share one).

    A key is known by the DS SHA-256 of its plain form, so a configured KSK (of which only tag and DS
    are known before the HSM is open) and the same key published in SKR(n-1) are one key. Without
    the HSM's public keys (before the PIN) a configured KSK's revoked tag is not known yet; it is
    compared once the plan exists."""
    owner = ctx.request.domain
    seen: dict[int, tuple[bytes, str]] = {}
    reported: set[tuple] = set()

    def visit(identity: bytes, tag: int, what: str):
        first = seen.setdefault(tag, (identity, what))
        if first[0] != identity and (tag, first[0], identity) not in reported:
            reported.add((tag, first[0], identity))
            yield f"key tag {tag}: {what} and {first[1]} are different keys with the same tag"

    def forms(key: Key, where: str):
        plain = replace(key, flags=key.flags & ~dnssec.FLAG_REVOKE)
        flagged = replace(key, flags=key.flags | dnssec.FLAG_REVOKE)
        identity = dnssec.ds_sha256(plain, owner)
        yield from visit(identity, dnssec.key_tag(plain), f"{where} (tag {dnssec.key_tag(plain)})")
        yield from visit(identity, dnssec.key_tag(flagged), f"{where} revoked (tag {dnssec.key_tag(flagged)})")

    for planned in ctx.plan:
        for name, key in planned.signers:
            yield from forms(key, f"KSK {name}")
    for name, hsm_key in ctx.hsm_keys.items():
        definition = ctx.definitions[name]
        if hsm_key.public_key is not None and definition.algorithm in hsm_key.algorithms:
            yield from forms(hsm_key.dnskey(algorithm=definition.algorithm), f"KSK {name}")
    for name, definition in (ctx.configured or ctx.definitions).items():
        yield from visit(definition.ds_sha256, definition.key_tag, f"configured KSK {name} (tag {definition.key_tag})")
        # A configured KSK this schema does not use is revoked some later quarter: its revoked tag
        # is known from the token's public key (the one with the definition's DS).
        for token_key in ctx.token_keys:
            if token_key.public_key is not None and definition.algorithm in token_key.algorithms:
                dnskey = token_key.dnskey(algorithm=definition.algorithm)
                if dnssec.ds_sha256(dnskey, owner) == definition.ds_sha256:
                    yield from forms(dnskey, f"configured KSK {name}")
    for index, bundle, key in first_occurrences(ctx.request):
        yield from forms(key, f"request {bundle_label(index, bundle)} {'ZSK' if is_zsk(key) else 'key'} "
                              f"{key.key_tag} ({key.key_identifier[:24]})")
    if ctx.previous is not None:
        for index, bundle, key in first_occurrences(ctx.previous):
            yield from forms(key, f"previous response {bundle_label(index, bundle)} key ({key.key_identifier[:24]})")


def configured_key_tags(config, request: Request, previous: Response | None):
    """KSR-KEY-TAGS before the HSM is opened (and the PIN asked): the request and SKR(n-1) against
    the configured KSKs' tags and each other. The plan repeats it with every revoked form."""
    context = SigningContext(request=request, plan=(), definitions={}, hsm_keys={}, token_keys=(),
                             ksk_policy=config.ksk_policy, ksk_ttl=config.ksk_ttl, previous=previous,
                             configured=config.keys)
    return run_checks((("KSR-KEY-TAGS", key_tag_clashes),), context)


def requested_signers(ctx: SigningContext) -> Iterator[str]:
    """KSR-SIGNERS: a bundle's <Signer keyIdentifier=...> elements name exactly the KSKs (by HSM
    label) the schema signs it with. A NOTE by default; refused with [checks] requested_signers_must_match."""
    for index, planned in enumerate(ctx.plan):
        asked = list(dict.fromkeys(planned.request_bundle.signers))
        signing = [key.key_identifier for _, key in planned.signers]
        if asked and set(asked) != set(signing):
            yield (f"{bundle_label(index, planned.request_bundle)}: the request asks to be signed by "
                   f"{', '.join(repr(a) for a in asked)}; the schema signs it with {', '.join(signing)}")


SIGNING_CHECKS = (
    ("KSK-MISMATCH", ksk_mismatch),
    ("KSK-SENSITIVE", ksk_kept_in_hsm),
    ("SKR-TTL", rrset_ttl),
    ("KSR-POLICY-SAFETY", signers_stay_published),
    ("KSR-KEY-TAGS", key_tag_clashes),
)
# Knot DNS / BIND 9 requests: one KSK set throughout, no ICANN KSK policy block to hold it to.
TEXT_SIGNING_CHECKS = (
    ("KSK-MISMATCH", ksk_mismatch),
    ("KSK-SENSITIVE", ksk_kept_in_hsm),
    ("KSR-KEY-TAGS", key_tag_clashes),
)
TEXT_PREVIOUS_RESPONSE_CHECKS = (("KSR-CHAIN-KEYS", previous_signers_in_hsm),)
PREVIOUS_RESPONSE_CHECKS = (
    ("KSR-POLICY-SAFETY", publish_and_retire_safety),
    ("KSR-CHAIN-KEYS", previous_signers_in_hsm),
)

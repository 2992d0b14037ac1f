"""Schemas and the assembly of signed bundles: which KSKs each slot publishes, revokes and signs with.

A schema gives, for each bundle slot, the KSKs published, the KSKs published with the REVOKE bit
(which gives them a new key tag) and the KSKs that sign the DNSKEY RRset. KSKs are named by their
definition in the signing configuration ("current", "next"), never by HSM label, so that a schema
reads the same from one ceremony to the next.

Pure: signing is a function handed in (the HSM's, or a software key's in tests); every signature
it returns is verified in software before it is used (SKR-VERIFY).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from appliance import dnssec
from appliance.errors import RefusedError, UsageError
from appliance.model import Bundle, Key, KeyPolicy, Request, Response, Signature


@dataclass(frozen=True)
class Slot:
    publish: tuple[str, ...] = ()
    revoke: tuple[str, ...] = ()  # published with the REVOKE bit
    sign: tuple[str, ...] = ()  # each must be published or revoked in this slot

    def key_names(self) -> set[str]:
        return set(self.publish) | set(self.revoke) | set(self.sign)


@dataclass(frozen=True)
class Schema:
    name: str
    slots: tuple[Slot, ...]
    description: str = ""
    # Only to reproduce ICANN's 2010 test file skr-root-2010-q2-0-revoke.xml: slots signed by
    # revoked KSKs alone, which no resolver can use (RFC 5011 2.1). Shown as a NOTE when set.
    revoked_only_signers: bool = False

    def key_names(self) -> set[str]:
        return set().union(*(slot.key_names() for slot in self.slots))


def _schema_problems(schema: Schema) -> list[str]:
    problems = []
    for number, slot in enumerate(schema.slots, start=1):
        both = set(slot.publish) & set(slot.revoke)
        if both:
            problems.append(f"slot {number} both publishes and revokes {', '.join(sorted(both))}")
        unpublished = [name for name in slot.sign if name not in slot.publish and name not in slot.revoke]
        if unpublished:
            problems.append(f"slot {number} signs with {', '.join(unpublished)}, which it does not publish")
        if not slot.sign:
            problems.append(f"slot {number} has no signing KSK")
        elif set(slot.sign) <= set(slot.revoke) and not schema.revoked_only_signers:
            problems.append(f"slot {number} is signed only by {', '.join(slot.sign)}, published revoked: a revoked "
                            "KSK's signature validates nothing but its own revocation (RFC 5011 2.1), so no "
                            "resolver could use the bundle")
    return problems


def validate_schema(schema: Schema) -> Schema:
    problems = _schema_problems(schema)
    if problems:
        raise UsageError(f"schema {schema.name!r}: " + "; ".join(problems))
    return schema


# Built-in schemas after ICANN's KSK rollover phases, for any number of slots: the first and the
# last slot are where a roll's edges fall (ZSK rolls happen there too). KSK names: current, next.
_CURRENT, _NEXT, _BOTH = ("current",), ("next",), ("current", "next")


def _uniform(publish, sign) -> Callable[[int], list[Slot]]:
    return lambda count: [Slot(publish=publish, sign=sign)] * count


def _first_then(first: Slot, rest: Slot) -> Callable[[int], list[Slot]]:
    return lambda count: [first] + [rest] * (count - 1)


def _revoking(first: Slot) -> Callable[[int], list[Slot]]:
    # The old KSK is published revoked and signs (its revocation must be signed by itself) in every
    # slot but the first and the last; the last publishes the new KSK alone.
    middle = Slot(publish=_NEXT, revoke=_CURRENT, sign=_BOTH)
    last = Slot(publish=_NEXT, sign=_NEXT)
    return lambda count: [first] + [middle] * (count - 2) + [last]


BUILTIN_SCHEMAS: dict[str, tuple[str, Callable[[int], list[Slot]]]] = {
    "normal": ("current publishes and signs every slot", _uniform(_CURRENT, _CURRENT)),
    "pre-publish": ("next published from slot 2, current signs (phase C to D)",
                    _first_then(Slot(publish=_CURRENT, sign=_CURRENT), Slot(publish=_BOTH, sign=_CURRENT))),
    "publish+": ("both published, current signs every slot (phase D extended)", _uniform(_BOTH, _CURRENT)),
    "rollover": ("both published, next signs from slot 2 (phase D to E)",
                 _first_then(Slot(publish=_BOTH, sign=_CURRENT), Slot(publish=_BOTH, sign=_NEXT))),
    "rollover+": ("both published, next signs every slot (phase E extended)", _uniform(_BOTH, _NEXT)),
    "revoke": ("current published revoked in the middle slots, gone in the last (phase F)",
               _revoking(Slot(publish=_BOTH, sign=_NEXT))),
    "revoke+": ("as revoke, with next alone in the first slot (phase F extended)",
                _revoking(Slot(publish=_NEXT, sign=_NEXT))),
}


def builtin_schema(name: str, count: int) -> Schema:
    description, rule = BUILTIN_SCHEMAS[name]
    if name.startswith("revoke") and count < 3:
        raise UsageError(f"schema {name!r} needs at least 3 bundles, the request has {count}")
    return validate_schema(Schema(name, tuple(rule(count)), description))


# --- the plan: the DNSKEY RRset of every bundle and who signs it ---------------------------------


@dataclass(frozen=True, eq=False, repr=False)  # a row of the plan, never compared: as policy.context.RequestContext
class PlannedBundle:
    request_bundle: Bundle
    keys: tuple[Key, ...]  # the DNSKEY RRset: the request's ZSKs, then the schema's KSKs
    signers: tuple[tuple[str, Key], ...]  # (KSK name, the KSK as published), in signing order

    def preview(self) -> Bundle:
        """The bundle as the table shows it before signing: signatures without data."""
        marks = tuple(Signature(key.key_identifier, 0, "DNSKEY", key.algorithm, 0, 0,
                                self.request_bundle.expiration, self.request_bundle.inception,
                                key.key_tag, "", b"") for _, key in self.signers)
        return replace(self.request_bundle, keys=self.keys, signatures=marks, signers=())


def revoked(key: Key) -> Key:
    """The KSK with the REVOKE bit set, and the new key tag that gives it (RFC 5011)."""
    flagged = replace(key, flags=key.flags | dnssec.FLAG_REVOKE)
    return replace(flagged, key_tag=dnssec.key_tag(flagged))


def plan_bundles(request: Request, schema: Schema, ksks: Mapping[str, Key]) -> tuple[PlannedBundle, ...]:
    """Bundle i gets slot i: the request's ZSKs and the slot's KSKs (published, or revoked).

    `ksks` maps each KSK name to its DNSKEY (flags 257, the KSK TTL, keyIdentifier = HSM label).
    """
    if len(schema.slots) != len(request.bundles):
        raise UsageError(f"schema {schema.name!r} has {len(schema.slots)} slots, "
                         f"the request {len(request.bundles)} bundles")
    unknown = schema.key_names() - ksks.keys()
    if unknown:
        raise UsageError(f"schema {schema.name!r} names KSK(s) {', '.join(sorted(unknown))} "
                         f"that the signing configuration does not define (defined: {', '.join(sorted(ksks))})")
    plan = []
    for bundle, slot in zip(request.bundles, schema.slots):
        published = {name: ksks[name] for name in slot.publish}
        published |= {name: revoked(ksks[name]) for name in slot.revoke}
        # Keys and signatures in canonical RRset order, as ICANN's signers (legacy and kskm) wrote them.
        plan.append(PlannedBundle(
            request_bundle=bundle,
            keys=tuple(sorted((*bundle.keys, *published.values()), key=dnssec.dnskey_rdata)),
            signers=tuple(sorted(((name, published[name]) for name in slot.sign),
                                 key=lambda signer: dnssec.dnskey_rdata(signer[1]))),
        ))
    return tuple(plan)


# --- signing ------------------------------------------------------------------------------------

SignFunction = Callable[[str, bytes, int], bytes]  # (KSK name, RRSIG signed data, algorithm) -> signature


def sign_bundle(planned: PlannedBundle, domain: str, ttl: int, sign: SignFunction) -> Bundle:
    """One response bundle; every signature is verified in software before it is kept (SKR-VERIFY)."""
    bundle = planned.request_bundle
    signatures = []
    for name, key in planned.signers:
        template = Signature(
            key_identifier=key.key_identifier, ttl=ttl, type_covered="DNSKEY", algorithm=key.algorithm,
            labels=dnssec.label_count(domain), original_ttl=ttl, expiration=bundle.expiration,
            inception=bundle.inception, key_tag=key.key_tag, signers_name=domain, signature_data=b"",
        )
        data = dnssec.rrsig_signed_data(template, planned.keys, domain)
        signature = replace(template, signature_data=sign(name, data, key.algorithm))
        try:
            dnssec.verify_signature(signature, key, planned.keys, domain)
        except dnssec.SignatureInvalid as exc:
            raise RefusedError(f"SKR-VERIFY: the HSM's signature by KSK {name} ({key.key_identifier}, "
                               f"tag {key.key_tag}) on bundle {bundle.id} does not verify: {exc}; "
                               "nothing was written") from None
        signatures.append(signature)
    return replace(bundle, keys=planned.keys, signatures=tuple(signatures), signers=())


def build_response(request: Request, plan: Sequence[PlannedBundle], ksk_policy: KeyPolicy, ttl: int,
                   sign: SignFunction) -> Response:
    """The Signed Key Response answering `request`: same id, serial, domain and bundles."""
    bundles = tuple(sign_bundle(planned, request.domain, ttl, sign) for planned in plan)
    return Response(id=request.id, serial=request.serial, domain=request.domain, ksk_policy=ksk_policy,
                    zsk_policy=request.zsk_policy, bundles=bundles)

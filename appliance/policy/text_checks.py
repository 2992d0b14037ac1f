"""Checks of Knot DNS / BIND 9 offline-KSK requests and responses (the text "1.0" dialects).

These files carry no policy, no bundle ids and no proof of possession (FORMATS.md), so the checks
that read those in ICANN's XML are replaced here by what the text does say: bundle times, the
records' owner, flags, algorithms and TTLs, and in a response every RRSIG judged at its bundle's
time (Knot's import rule, FORMATS.md 2.4) but against the keys in the bundle and, with trust
anchors, against configured KSKs (neither tool compares with a trust anchor).

Each function takes a RequestContext or ResponseContext and yields one message per fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from appliance import dnssec
from appliance.model import Bundle, Request, Response
from appliance.policy.response_checks import trust_anchor
from appliance.policy.context import (
    RequestContext,
    ResponseContext,
    bundle_label,
    duration,
    first_occurrences,
    is_zsk,
    key_label,
    timestamp,
)

NO_PROOF_OF_POSSESSION = (
    "no proof of possession in these formats: Knot DNS and BIND 9 requests carry unsigned DNSKEYs, so "
    "nothing shows the requester holds the ZSKs' private keys (KSR-BUNDLE-POP is not run)"
)


def request_notes(request: Request | None) -> list[str]:
    """What the operators must be told about a text request beyond PASS/FAIL: the missing proof
    of possession, and each repeated bundle time (the later bundle is the one signed)."""
    if request is None or request.dialect == "icann":
        return []
    notes = [NO_PROOF_OF_POSSESSION]
    for index in range(1, len(request.bundles)):
        if request.bundles[index].inception == request.bundles[index - 1].inception:
            notes.append(f"{bundle_label(index, request.bundles[index])} repeats the time of bundle {index}: "
                         f"the later bundle is the one signed, as BIND writes them")
    return notes


def effective_bundles(bundles: tuple[Bundle, ...]) -> list[tuple[int, Bundle]]:
    """(index, bundle) of each bundle that is ever in force: of bundles sharing a time, the last."""
    return [(i, b) for i, b in enumerate(bundles) if i + 1 == len(bundles) or bundles[i + 1].inception != b.inception]


def bundle_times(ctx: RequestContext) -> Iterator[str]:
    """KSR-BUNDLE-UNIQUE (text): bundle times never go back (a repeated time is a NOTE, not a fault)."""
    bundles = ctx.request.bundles
    for index in range(1, len(bundles)):
        if bundles[index].inception < bundles[index - 1].inception:
            yield (f"{bundle_label(index, bundles[index])}: {timestamp(bundles[index].inception)} is before "
                   f"bundle {index}'s {timestamp(bundles[index - 1].inception)}; bundle times must increase")


def zone_keys(ctx: RequestContext) -> Iterator[str]:
    """KSR-BUNDLE-KEYS (text): every DNSKEY is a ZSK (flags 256, protocol 3), usable, and no two
    distinct keys share a key tag."""
    by_tag: dict[int, bytes] = {}
    for index, bundle, key in first_occurrences(ctx.request):
        where = f"{bundle_label(index, bundle)}: {key_label(key)}"
        if key.flags != dnssec.FLAG_ZONE:
            yield f"{where}: flags {key.flags}; a request may hold only ZSKs (flags {dnssec.FLAG_ZONE})"
        if key.protocol != 3:
            yield f"{where}: protocol {key.protocol}, DNSKEY protocol must be 3"
        rdata = dnssec.dnskey_rdata(key)
        if by_tag.setdefault(key.key_tag, rdata) != rdata:
            yield f"{where}: key tag {key.key_tag} clashes with another key's tag in this request"
        try:
            dnssec.public_key_to_crypto(key.algorithm, key.public_key)
        except dnssec.SignatureInvalid as exc:
            yield f"{where}: unusable public key ({exc})"


def signature_horizon(ctx: RequestContext) -> Iterator[str]:
    """KSR-POLICY-SIG-HORIZON (text): no bundle's period over before now, and the last signatures
    (made at the last bundle's time, valid up to policy signatures.validity_max) within the horizon."""
    bundles = ctx.request.bundles
    for index, bundle in enumerate(bundles):
        if index + 1 < len(bundles) and bundle.expiration <= ctx.now:
            yield (f"{bundle_label(index, bundle)}: its period ended {timestamp(bundle.expiration)}, before now "
                   f"({timestamp(ctx.now)}); is the clock right?")
    if bundles:
        last = bundles[-1]
        until = last.inception + ctx.policy.validity.high
        if until > ctx.now + ctx.policy.horizon:
            yield (f"{bundle_label(len(bundles) - 1, last)}: its signatures would expire {timestamp(until)}, more "
                   f"than {duration(ctx.policy.horizon)} (policy signatures.horizon) after now ({timestamp(ctx.now)})")


def chain_overlap(ctx: RequestContext) -> Iterator[str]:
    """KSR-CHAIN-OVERLAP (text): the previous response's last signatures still hold when this request begins."""
    if not ctx.request.bundles or not ctx.previous.bundles:
        yield "the request or the previous response has no bundles"
        return
    first, last = ctx.request.bundles[0], ctx.previous.bundles[-1]
    if first.inception < last.inception:
        yield (f"{bundle_label(0, first)}: begins {timestamp(first.inception)}, before the previous response's "
               f"last bundle ({timestamp(last.inception)})")
    if last.expiration < first.inception:
        yield (f"{bundle_label(0, first)}: gap of {duration(first.inception - last.expiration)} after the previous "
               f"response's last signatures expire ({timestamp(last.expiration)})")


def previous_signatures(ctx: RequestContext) -> Iterator[str]:
    """SKR-VERIFY (text): every RRSIG of the previous response holds at its bundle's time, and
    every bundle carries a KSK's a trust anchor names, when anchors are given."""
    for problem in response_problems(ctx.previous):
        yield f"previous response: {problem}"
    if ctx.trust_anchors is not None:
        for problem in trust_anchor(ResponseContext(ctx.previous, trust_anchors=ctx.trust_anchors)):
            yield f"previous response: {problem}"


def _rdatas(bundle: Bundle, rtype: str) -> list[bytes]:
    if rtype == "DNSKEY":
        return [dnssec.dnskey_rdata(k) for k in bundle.keys]
    return [r.rdata for r in bundle.records if r.rtype == rtype]


def _signer(signature, candidates, bundle: Bundle, owner: str):
    """(key, None) for the first candidate (same tag and algorithm) whose signature verifies, else
    (the first candidate, why it does not)."""
    records = [(r.ttl, r.rdata) for r in bundle.records if r.rtype == signature.type_covered.upper()]
    problem = None
    for key in candidates:
        try:
            dnssec.verify_rrset_signature(signature, key, bundle.keys, records, owner)
            return key, None
        except (dnssec.SignatureInvalid, ValueError) as exc:  # ValueError: a signer name not encodable
            problem = problem or str(exc)
    return candidates[0], problem


def _valid_at(signature, moment: datetime) -> bool:
    return signature.inception <= moment < signature.expiration


def response_problems(response: Response) -> Iterator[str]:
    """Per bundle: every RRSIG by a DNSKEY of the bundle verifies and holds at the bundle's time;
    each RRset (DNSKEY, CDS, CDNSKEY) has a valid RRSIG by a KSK of the bundle; and the earliest
    expiration reaches the next bundle's time (no gap; repeated times are allowed)."""
    bundles = response.bundles
    for index, bundle in enumerate(bundles):
        label = bundle_label(index, bundle)
        when = bundle.inception
        if index and when < bundles[index - 1].inception:
            yield f"{label}: {timestamp(when)} is before the previous bundle's {timestamp(bundles[index - 1].inception)}"
        signed: dict[str, bool] = {}
        for signature in bundle.signatures:
            rtype = signature.type_covered.upper()
            signers = [k for k in bundle.keys if k.key_tag == signature.key_tag and k.algorithm == signature.algorithm]
            if not signers:
                yield f"{label}: RRSIG({rtype}) by key tag {signature.key_tag}, which is not a DNSKEY of the bundle"
                continue
            key, problem = _signer(signature, signers, bundle, response.domain)
            if problem:
                yield f"{label}: RRSIG({rtype}) by {key_label(key)}: {problem}"
                continue
            if not _valid_at(signature, when):
                yield (f"{label}: RRSIG({rtype}) by {key_label(key)} is valid {timestamp(signature.inception)} to "
                       f"{timestamp(signature.expiration)}, not at the bundle's time {timestamp(when)}")
                continue
            if not is_zsk(key):
                signed[rtype] = True
        for rtype in ("DNSKEY", "CDNSKEY", "CDS"):
            if (rtype == "DNSKEY" or _rdatas(bundle, rtype)) and not signed.get(rtype):
                yield f"{label}: no valid RRSIG({rtype}) by a KSK of the bundle at {timestamp(when)}"
        later = [b.inception for b in bundles[index + 1:] if b.inception > when]
        if later and bundle.signatures and bundle.expiration < later[0]:
            yield (f"{label}: its earliest RRSIG expires {timestamp(bundle.expiration)}, before the next bundle "
                   f"begins ({timestamp(later[0])}): a gap of {duration(later[0] - bundle.expiration)}")


def signatures(ctx: ResponseContext) -> Iterator[str]:
    """SKR-VERIFY (text): as response_problems."""
    yield from response_problems(ctx.response)


def answers_request(ctx: ResponseContext) -> Iterator[str]:
    """SKR-MATCHES-KSR (text): the response starts at the request's first time, has a bundle at
    every request time, and each bundle in force carries exactly the ZSKs of the request bundle
    in force at its time (of repeated times, the later bundle; BIND's earlier twin is never used)."""
    request, response = ctx.request, ctx.response
    if request.domain and response.domain and dnssec.name_to_wire(request.domain) != dnssec.name_to_wire(response.domain):
        yield f"response is for {response.domain!r}, the request for {request.domain!r}"
    asked = effective_bundles(request.bundles)
    if not asked or not response.bundles:
        yield "the request or the response has no bundles"
        return
    times = {b.inception for b in response.bundles}
    for index, bundle in asked:
        if bundle.inception not in times:
            yield f"request {bundle_label(index, bundle)}: no response bundle at {timestamp(bundle.inception)}"
    for index, answered in effective_bundles(response.bundles):
        label = bundle_label(index, answered)
        in_force = [b for _, b in asked if b.inception <= answered.inception]
        if not in_force:
            yield f"{label}: {timestamp(answered.inception)} is before the request's first bundle"
            continue
        wanted = {dnssec.dnskey_rdata(k): k for k in in_force[-1].keys}
        offered = {dnssec.dnskey_rdata(k): k for k in answered.keys if is_zsk(k)}
        for rdata in sorted(wanted.keys() - offered.keys()):
            yield f"{label}: requested ZSK {key_label(wanted[rdata])} is missing"
        for rdata in sorted(offered.keys() - wanted.keys()):
            yield f"{label}: ZSK {key_label(offered[rdata])} was not in the request bundle in force"

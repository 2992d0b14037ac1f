"""Checks linking this request to the previous response, SKR(n-1): the daisy chain of key sets.

Each function takes a RequestContext whose `previous` is set and yields one message per fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from appliance import dnssec
from appliance.policy.context import (
    RequestContext,
    ResponseContext,
    bundle_label,
    duration,
    is_zsk,
    key_label,
    range_text,
    same_domain,
    timestamp,
)
from appliance.policy.response_checks import response_signature_problems, trust_anchor
from appliance.policy.schedule_checks import overlap_bounds


def previous_signatures(ctx: RequestContext) -> Iterator[str]:
    """SKR-VERIFY: every signature in the previous response validates and every bundle carries a
    non-revoked KSK's (one a trust anchor names, when anchors are given); it is the chain's anchor."""
    for problem in response_signature_problems(ctx.previous):
        yield f"previous response {ctx.previous.id}: {problem}"
    if ctx.trust_anchors is not None:
        for problem in trust_anchor(ResponseContext(ctx.previous, trust_anchors=ctx.trust_anchors)):
            yield f"previous response {ctx.previous.id}: {problem}"


def chain_ids(ctx: RequestContext) -> Iterator[str]:
    """KSR-CHAIN-ID: the previous response is for the request's zone, the request id is new, and no
    bundle id is reused from the previous response."""
    if not same_domain(ctx.request.domain, ctx.previous.domain):
        yield (f"the previous response is for domain {ctx.previous.domain!r}, this request for "
               f"{ctx.request.domain!r}: another zone's response is no evidence for this one")
    if ctx.request.id == ctx.previous.id:
        yield f"request id {ctx.request.id} is the previous response's id: this request was already signed"
    previous_ids = {b.id for b in ctx.previous.bundles}
    for index, bundle in enumerate(ctx.request.bundles):
        if bundle.id in previous_ids:
            yield f"{bundle_label(index, bundle)}: id already used in the previous response"


def chain_keys(ctx: RequestContext) -> Iterator[str]:
    """KSR-CHAIN-KEYS: the first bundle's keys are exactly the ZSKs of the previous response's last bundle."""
    if not ctx.request.bundles or not ctx.previous.bundles:
        yield "the request or the previous response has no bundles"
        return
    first = ctx.request.bundles[0]
    last = ctx.previous.bundles[-1]
    # Compare DNSKEY RDATA: identifiers and TTLs may be rewritten, the keys themselves may not.
    wanted = {dnssec.dnskey_rdata(k): k for k in last.keys if is_zsk(k)}
    offered = {dnssec.dnskey_rdata(k): k for k in first.keys}
    label = bundle_label(0, first)
    last_label = f"the previous response's last bundle ({last.id})"
    for rdata in sorted(offered.keys() - wanted.keys()):
        yield f"{label}: {key_label(offered[rdata])} is not a ZSK of {last_label}"
    for rdata in sorted(wanted.keys() - offered.keys()):
        yield f"{label}: lacks {key_label(wanted[rdata])}, a ZSK of {last_label}"


def chain_overlap(ctx: RequestContext) -> Iterator[str]:
    """KSR-CHAIN-OVERLAP: the first bundle overlaps the previous response's last one by the allowed amount."""
    if not ctx.request.bundles or not ctx.previous.bundles:
        yield "the request or the previous response has no bundles"
        return
    first = ctx.request.bundles[0]
    last = ctx.previous.bundles[-1]
    bounds, _ = overlap_bounds(ctx)  # faults in the request's claims are KSR-POLICY-SIG-OVERLAP's
    overlap = last.expiration - first.inception
    if overlap not in bounds:
        what = "gap" if overlap < timedelta(0) else "overlap"
        yield (
            f"{bundle_label(0, first)}: {what} of {duration(abs(overlap))} with the previous response's last "
            f"bundle ({last.id}, expires {timestamp(last.expiration)}); allowed {range_text(bounds)}"
        )

"""Checks on the request's timeline: how many bundles, when they start, how long they last, overlap.

Each function takes a RequestContext and yields one message per fault.
Validity and overlap are judged against the operator's range from the policy file, narrowed by
the request's own Min/Max claims when the policy enforces them: a request may ask for less
latitude than the operator allows, never for more.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from appliance.policy.config import Range
from appliance.policy.context import RequestContext, bundle_label, duration, range_text, timestamp


def bundle_count(ctx: RequestContext) -> Iterator[str]:
    """KSR-BUNDLE-COUNT: the request has the policy's number of bundles."""
    found, wanted = len(ctx.request.bundles), ctx.policy.bundle_count
    if found != wanted:
        yield f"request has {found} bundles; policy bundles.count is {wanted}"


def cycle_duration(ctx: RequestContext) -> Iterator[str]:
    """KSR-BUNDLE-CYCLE-DURATION: first to last inception spans the policy's cycle."""
    bundles = ctx.request.bundles
    if not bundles:
        yield "request has no bundles"
        return
    span = bundles[-1].inception - bundles[0].inception
    if span not in ctx.policy.cycle:
        yield (
            f"{bundle_label(0, bundles[0])} to {bundle_label(len(bundles) - 1, bundles[-1])}: inceptions "
            f"span {duration(span)}; policy bundles.cycle_min/cycle_max allow {range_text(ctx.policy.cycle)}"
        )


def bundle_intervals(ctx: RequestContext) -> Iterator[str]:
    """KSR-POLICY-BUNDLE-INTERVALS: each bundle starts 9..11 days (policy) after the previous one."""
    bundles = ctx.request.bundles
    for index in range(1, len(bundles)):
        step = bundles[index].inception - bundles[index - 1].inception
        if step not in ctx.policy.interval:
            yield (
                f"{bundle_label(index, bundles[index])}: inception {timestamp(bundles[index].inception)} is "
                f"{duration(step)} after the previous bundle's; policy bundles.interval_min/interval_max "
                f"allow {range_text(ctx.policy.interval)}"
            )


def _bounds(policy_range: Range, claim_low: timedelta, claim_high: timedelta, name: str, enforce: bool):
    """(effective range, problems with the request's claims) for validity or overlap."""
    if not enforce:
        return policy_range, []
    problems = []
    if claim_low > claim_high:
        problems.append(
            f"request's Min{name} {duration(claim_low)} is above its Max{name} {duration(claim_high)}"
        )
    if claim_low < policy_range.low:
        problems.append(
            f"request's Min{name} {duration(claim_low)} is below the policy's minimum "
            f"{duration(policy_range.low)}; a request cannot widen the operator's limits"
        )
    if claim_high > policy_range.high:
        problems.append(
            f"request's Max{name} {duration(claim_high)} is above the policy's maximum "
            f"{duration(policy_range.high)}; a request cannot widen the operator's limits"
        )
    effective = Range(max(claim_low, policy_range.low), min(claim_high, policy_range.high))
    return effective, problems


def validity_bounds(ctx: RequestContext) -> tuple[Range, list[str]]:
    zsk = ctx.request.zsk_policy
    return _bounds(
        ctx.policy.validity,
        zsk.min_signature_validity,
        zsk.max_signature_validity,
        "SignatureValidity",
        ctx.policy.enforce_request_claims,
    )


def overlap_bounds(ctx: RequestContext) -> tuple[Range, list[str]]:
    zsk = ctx.request.zsk_policy
    return _bounds(
        ctx.policy.overlap,
        zsk.min_validity_overlap,
        zsk.max_validity_overlap,
        "ValidityOverlap",
        ctx.policy.enforce_request_claims,
    )


def _source(ctx: RequestContext, name: str) -> str:
    if ctx.policy.enforce_request_claims:
        return f"policy signatures.{name}_min/{name}_max and the request's own claims"
    return f"policy signatures.{name}_min/{name}_max"


def signature_validity(ctx: RequestContext) -> Iterator[str]:
    """KSR-POLICY-SIG-VALIDITY: every bundle lasts within the allowed validity range."""
    bounds, problems = validity_bounds(ctx)
    yield from problems
    if bounds.low > bounds.high:
        return  # the claims leave no valid length; judging each bundle would only repeat that
    for index, bundle in enumerate(ctx.request.bundles):
        if bundle.validity not in bounds:
            yield (
                f"{bundle_label(index, bundle)}: {timestamp(bundle.inception)} to "
                f"{timestamp(bundle.expiration)} lasts {duration(bundle.validity)}; "
                f"{_source(ctx, 'validity')} allow {range_text(bounds)}"
            )


def signature_overlap(ctx: RequestContext) -> Iterator[str]:
    """KSR-POLICY-SIG-OVERLAP: consecutive bundles overlap (no gap) by the allowed amount."""
    bounds, problems = overlap_bounds(ctx)
    yield from problems
    if bounds.low > bounds.high:
        return  # as for validity: the claims themselves are the fault
    bundles = ctx.request.bundles
    for index in range(1, len(bundles)):
        overlap = bundles[index - 1].expiration - bundles[index].inception
        if overlap not in bounds:
            what = "gap" if overlap < timedelta(0) else "overlap"
            yield (
                f"{bundle_label(index, bundles[index])}: {what} of {duration(abs(overlap))} with the previous "
                f"bundle (it expires {timestamp(bundles[index - 1].expiration)}); "
                f"{_source(ctx, 'overlap')} allow {range_text(bounds)}"
            )


def signature_horizon(ctx: RequestContext) -> Iterator[str]:
    """KSR-POLICY-SIG-HORIZON: nothing already expired, nothing expiring beyond the horizon from now."""
    limit = ctx.now + ctx.policy.horizon
    for index, bundle in enumerate(ctx.request.bundles):
        if bundle.expiration <= ctx.now:
            yield (
                f"{bundle_label(index, bundle)}: expired {timestamp(bundle.expiration)}, before now "
                f"({timestamp(ctx.now)}); is the clock right?"
            )
        elif bundle.expiration > limit:
            yield (
                f"{bundle_label(index, bundle)}: expires {timestamp(bundle.expiration)}, more than "
                f"{duration(ctx.policy.horizon)} (policy signatures.horizon) after now ({timestamp(ctx.now)})"
            )

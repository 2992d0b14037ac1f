"""The lists of checks and the functions that run them all: file bytes in, a Verdict out.

Every check runs, whatever failed before it, so the operators see every fault at once. The signer
and the console call these same functions, so what `verify-ksr` accepts is what gets signed.
Adding a check is one function in a check module and one line in a list below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from appliance.errors import FormatError
from appliance.formats.detect import parse_check, read_request, read_response
from appliance.formats.detect import detect_format
from appliance.model import Request, Response, Verdict, Violation
from appliance.policy import (
    chain_checks,
    key_policy_checks,
    request_checks,
    response_checks,
    schedule_checks,
    text_checks,
)
from appliance.policy.config import Policy
from appliance.policy.context import RequestContext, ResponseContext

if TYPE_CHECKING:
    from appliance.formats.trust_anchor import TrustAnchor

Check = tuple[str, Callable]

REQUEST_CHECKS: tuple[Check, ...] = (
    ("KSR-DOMAIN", request_checks.domain),
    ("KSR-BUNDLE-UNIQUE", request_checks.unique_bundles),
    ("KSR-BUNDLE-KEYS", request_checks.bundle_keys),
    ("KSR-BUNDLE-POP", request_checks.proof_of_possession),
    ("KSR-BUNDLE-COUNT", schedule_checks.bundle_count),
    ("KSR-BUNDLE-CYCLE-DURATION", schedule_checks.cycle_duration),
    ("KSR-POLICY-KEYS", key_policy_checks.keys_per_bundle),
    ("KSR-POLICY-BUNDLE-INTERVALS", schedule_checks.bundle_intervals),
    ("KSR-POLICY-ALG", key_policy_checks.algorithms),
    ("KSR-POLICY-SIG-VALIDITY", schedule_checks.signature_validity),
    ("KSR-POLICY-SIG-OVERLAP", schedule_checks.signature_overlap),
    ("KSR-POLICY-TTL", key_policy_checks.key_ttl),
    ("KSR-POLICY-SIG-HORIZON", schedule_checks.signature_horizon),
)

# Run only with a previous response, SKR(n-1).
CHAIN_CHECKS: tuple[Check, ...] = (
    ("SKR-VERIFY", chain_checks.previous_signatures),
    ("KSR-CHAIN-ID", chain_checks.chain_ids),
    ("KSR-CHAIN-KEYS", chain_checks.chain_keys),
    ("KSR-CHAIN-OVERLAP", chain_checks.chain_overlap),
)

# Knot DNS / BIND 9 requests: no policy block, ids or proofs of possession to check (a NOTE says so).
TEXT_REQUEST_CHECKS: tuple[Check, ...] = (
    ("KSR-DOMAIN", request_checks.domain),
    ("KSR-BUNDLE-UNIQUE", text_checks.bundle_times),
    ("KSR-BUNDLE-KEYS", text_checks.zone_keys),
    ("KSR-POLICY-ALG", key_policy_checks.algorithms),
    ("KSR-POLICY-TTL", key_policy_checks.key_ttl),
    ("KSR-POLICY-SIG-HORIZON", text_checks.signature_horizon),
)
TEXT_CHAIN_CHECKS: tuple[Check, ...] = (
    ("SKR-VERIFY", text_checks.previous_signatures),
    ("KSR-CHAIN-KEYS", chain_checks.chain_keys),
    ("KSR-CHAIN-OVERLAP", text_checks.chain_overlap),
)

RESPONSE_CHECKS: tuple[Check, ...] = (("SKR-VERIFY", response_checks.signatures),)
TEXT_RESPONSE_CHECKS: tuple[Check, ...] = (("SKR-VERIFY", text_checks.signatures),)
TRUST_ANCHOR_CHECKS: tuple[Check, ...] = (("SKR-TRUST-ANCHOR", response_checks.trust_anchor),)
ANSWER_CHECKS: tuple[Check, ...] = (("SKR-MATCHES-KSR", response_checks.answers_request),)
TEXT_ANSWER_CHECKS: tuple[Check, ...] = (("SKR-MATCHES-KSR", text_checks.answers_request),)
CLOCK_CHECKS: tuple[Check, ...] = (("SKR-HORIZON", response_checks.horizon),)


def run_checks(checks: Iterable[Check], context) -> Verdict:
    """Run every check and collect every violation, in check order."""
    run: list[str] = []
    violations: list[Violation] = []
    for check_id, function in checks:
        run.append(check_id)
        try:
            messages = list(function(context))
        except Exception as exc:  # a check that cannot finish refuses; it never passes silently
            messages = [f"check could not complete: {type(exc).__name__}: {exc}"]
        violations.extend(Violation(check_id, message) for message in messages)
    return Verdict(checks_run=tuple(dict.fromkeys(run)), violations=tuple(violations))


def validate_request(
    request: Request, policy: Policy, previous: Response | None = None, now: datetime | None = None,
    trust_anchors: tuple[TrustAnchor, ...] | None = None,
) -> Verdict:
    """Every request check, and the chain checks when the previous response is given (each of its
    bundles then signed by a KSK one of `trust_anchors` names, when they are given)."""
    context = RequestContext(request, policy, now or datetime.now(UTC), previous, trust_anchors)
    text = request.dialect != "icann"
    checks = TEXT_REQUEST_CHECKS if text else REQUEST_CHECKS
    if previous is not None:
        checks += TEXT_CHAIN_CHECKS if text else CHAIN_CHECKS
    return run_checks([c for c in checks if c[0] not in policy.skip], context)


def validate_response(
    response: Response,
    trust_anchors: tuple[TrustAnchor, ...] | None = None,
    request: Request | None = None,
    now: datetime | None = None,
    revoked_only_signers: bool = False,
) -> Verdict:
    """SKR-VERIFY always; trust anchors, the request it answers and the clock when given.
    `revoked_only_signers` (the signer's legacy schema switch only) lets a revoked KSK's signature
    stand for a bundle."""
    text = response.dialect != "icann"
    checks = TEXT_RESPONSE_CHECKS if text else RESPONSE_CHECKS
    if trust_anchors is not None:
        checks += TRUST_ANCHOR_CHECKS
    if request is not None:
        checks += TEXT_ANSWER_CHECKS if text else ANSWER_CHECKS
    if now is not None:
        checks += CLOCK_CHECKS
    return run_checks(checks, ResponseContext(response, now, trust_anchors, request, revoked_only_signers))


@dataclass(frozen=True, eq=False, repr=False)  # a return value, never compared: as context.RequestContext
class RequestOutcome:
    request: Request | None  # None when the file could not be read as a request
    verdict: Verdict


def parse_failure(exc: FormatError, what: str | None = None) -> Violation:
    """A parse error as a violation of its check, optionally saying which file it was."""
    message = str(exc).removeprefix(f"{exc.check}: ")
    return Violation(exc.check, f"{what}: {message}" if what else message)


def check_request_bytes(
    data: bytes, policy: Policy, previous_data: bytes | None = None, now: datetime | None = None,
    trust_anchors: tuple[TrustAnchor, ...] | None = None, forced_format: str | None = None,
) -> RequestOutcome:
    """The whole pipeline: parse the request (and SKR(n-1)), then run every check.

    The format is detected from the content (ICANN XML, Knot or BIND text) unless `forced_format`
    names one. A file that cannot be parsed fails KSR-XML (KSR-TEXT for text) and nothing else runs
    on it; a previous response that cannot be parsed fails its own parse check while the request
    checks still run.
    """
    try:
        request = read_request(data, forced_format)
    except FormatError as exc:
        return RequestOutcome(None, Verdict(checks_run=(exc.check,), violations=(parse_failure(exc),)))
    parse_faults: list[Violation] = []
    previous = None
    if previous_data is not None:
        try:
            previous = read_response(previous_data)
        except FormatError as exc:
            parse_faults.append(parse_failure(exc, "previous response"))
    verdict = validate_request(request, policy, previous, now, trust_anchors)
    first = parse_check(forced_format or detect_format(data))
    run = tuple(dict.fromkeys((first, *(v.check for v in parse_faults), *verdict.checks_run)))
    return RequestOutcome(request, Verdict(run, tuple(parse_faults) + verdict.violations))

"""`ceremony verify-ksr` and `ceremony verify-skr`: every check on a request or a response, no HSM.

Both print the bundle table, one PASS/FAIL line per check, and the file's SHA-256 and PGP words;
with --json, one JSON object instead (appliance.report.report_json). Exit 0 accepted, 1 refused,
2 usage or configuration error.
"""

from __future__ import annotations

import json
from pathlib import Path

from appliance.commands.arguments import add_format_option, parse_now, read_input
from appliance.digest import Fingerprint
from appliance.errors import FormatError, UsageError
from appliance.formats import TrustAnchor, parse_trust_anchors
from appliance.formats.detect import read_request, read_response
from appliance.model import Verdict
from appliance.policy import check_request_bytes, load_policy, validate_response
from appliance.policy.runner import parse_failure
from appliance.policy.text_checks import request_notes
from appliance.report import render_text, report_json
from appliance.text import shown


def register(subparsers) -> None:
    ksr = subparsers.add_parser("verify-ksr", help="check a Key Signing Request against the policy")
    ksr.add_argument("ksr", type=Path, metavar="KSR", help="the request (ICANN XML, Knot or BIND text)")
    ksr.add_argument("--previous-skr", type=Path, metavar="SKR", help="the previous response, SKR(n-1)")
    ksr.add_argument("--trust-anchor", type=Path, metavar="FILE",
                     help="DNSKEY lines or RFC 7958 XML: every bundle of SKR(n-1) signed by one")
    ksr.add_argument(
        "--policy", metavar="FILE", help="policy TOML file or shipped era name (root, root-2016, root-2010, root-2009)"
    )
    ksr.add_argument("--now", metavar="TIME", help="UTC time the horizon check uses (default: the clock)")
    ksr.add_argument("--json", action="store_true", help="print one JSON object")
    add_format_option(ksr)
    ksr.set_defaults(handler=run_verify_ksr)

    skr = subparsers.add_parser("verify-skr", help="verify every signature of a Signed Key Response")
    skr.add_argument("skr", type=Path, metavar="SKR", help="the response (ICANN XML, Knot or BIND text)")
    skr.add_argument(
        "--trust-anchor", type=Path, metavar="FILE", help="DNSKEY lines, a BIND .key file or RFC 7958 XML: every bundle signed by one"
    )
    skr.add_argument("--ksr", type=Path, metavar="KSR", help="the request this response must answer")
    skr.add_argument("--now", metavar="TIME", help="UTC time: no bundle expired, none beyond 180 days")
    skr.add_argument("--json", action="store_true", help="print one JSON object")
    add_format_option(skr)
    skr.set_defaults(handler=run_verify_skr)


def _emit(args, title, bundles, verdict: Verdict, fingerprint: Fingerprint, notes=(), what="REQUEST") -> int:
    if args.json:
        print(json.dumps(report_json(verdict, fingerprint, bundles)))
    else:
        print(render_text(title, bundles, verdict, fingerprint, notes, what))
    return 0 if verdict.valid else 1


def run_verify_ksr(args) -> int:
    policy = load_policy(args.policy)
    now = parse_now(args.now)
    data = read_input(args.ksr, "request")
    previous = read_input(args.previous_skr, "previous response") if args.previous_skr else None
    if args.trust_anchor and not args.previous_skr:
        raise UsageError("--trust-anchor judges the previous response: give --previous-skr too")
    anchors = _trust_anchors(args.trust_anchor) if args.trust_anchor else None
    outcome = check_request_bytes(data, policy, previous, now, anchors, forced_format=args.format)
    title = f"Request {shown(str(args.ksr))}"
    if outcome.request is not None:
        request = outcome.request
        title += f": id {shown(request.id)}, domain '{shown(request.domain)}', {len(request.bundles)} bundles"
    title += f"\nPolicy: {shown(str(policy.source))}"
    if args.previous_skr:
        title += f"\nPrevious response: {shown(str(args.previous_skr))}"
    bundles = outcome.request.bundles if outcome.request else None
    notes = policy.relaxations() + (request_notes(outcome.request) if outcome.request else [])
    return _emit(args, title, bundles, outcome.verdict, Fingerprint.of(data), notes)


def _load_or_violation(parse, data: bytes, what: str):
    """(parsed object, None) or (None, the parse failure as a violation naming `what`)."""
    try:
        return parse(data), None
    except FormatError as exc:
        return None, parse_failure(exc, what)


def run_verify_skr(args) -> int:
    now = parse_now(args.now)
    data = read_input(args.skr, "response")
    fingerprint = Fingerprint.of(data)
    anchors = _trust_anchors(args.trust_anchor) if args.trust_anchor else None
    request_data = read_input(args.ksr, "request") if args.ksr else None
    response, fault = _load_or_violation(lambda d: read_response(d, args.format), data, "response")
    request = None
    if fault is None and request_data is not None:
        request, fault = _load_or_violation(read_request, request_data, f"request {shown(str(args.ksr))}")
    title = f"Response {shown(str(args.skr))}"
    if fault is not None:
        verdict = Verdict(checks_run=(fault.check,), violations=(fault,))
        return _emit(args, title, None, verdict, fingerprint, what="RESPONSE")
    title += f": id {shown(response.id)}, domain '{shown(response.domain)}', {len(response.bundles)} bundles"
    verdict = validate_response(response, anchors, request, now)
    parse_check = "KSR-XML" if response.dialect == "icann" else "KSR-TEXT"
    verdict = Verdict((parse_check, *verdict.checks_run), verdict.violations)
    return _emit(args, title, response.bundles, verdict, fingerprint, what="RESPONSE")


def _trust_anchors(path: Path) -> tuple[TrustAnchor, ...]:
    """The anchors in FILE; an unreadable or empty file is a usage error, not a refusal."""
    try:
        anchors = parse_trust_anchors(read_input(path, "trust anchor file"))
    except FormatError as exc:
        raise UsageError(f"trust anchor file {shown(str(path))}: {exc}") from None
    if not anchors:
        raise UsageError(f"trust anchor file {shown(str(path))} names no key")
    return anchors

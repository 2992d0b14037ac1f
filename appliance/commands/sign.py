"""`ceremony sign KSR --output SKR`: every check, the operators' confirmation, the HSM's signatures.

Order matters and is the ceremony's: read and check the request (and SKR(n-1)), open the HSM and
show its identity, find each KSK and match it to its definition, plan every bundle from the schema,
run the checks that need the HSM and the plan, show the bundle table and the request's hash, ask
for a typed "yes", sign, verify every signature and the whole response, and only then write the
file, atomically. Any failure before the rename leaves no output file.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from appliance import dnssec
from appliance.atomicfile import write_atomically
from appliance.commands.arguments import add_format_option, parse_now, read_input
from appliance.digest import Fingerprint
from appliance.errors import RefusedError, UsageError
from appliance.formats.detect import read_response
from appliance.hsm import Hsm
from appliance.model import Verdict
from appliance.policy import check_request_bytes, load_policy
from appliance.policy.text_checks import request_notes
from appliance.report import bundle_table, report_json, summary_line, verdict_lines
from appliance.signing.checks import configured_key_tags
from appliance.signing.pipeline import prepare, sign_plan
from appliance.signing.config import DEFAULT_CONFIG, load_signing_config
from appliance.text import shown, shown_block


def register(subparsers) -> None:
    parser = subparsers.add_parser("sign", help="check a Key Signing Request and sign it with the HSM's KSK")
    parser.add_argument("ksr", type=Path, metavar="KSR", help="the request (ICANN XML, Knot or BIND text)")
    parser.add_argument("--output", required=True, type=Path, metavar="SKR", help="the response to write")
    parser.add_argument("--previous-skr", type=Path, metavar="SKR", help="the previous response, SKR(n-1)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"signing configuration (default {DEFAULT_CONFIG})")
    parser.add_argument("--schema", metavar="NAME", help="KSK schema (default: the configuration's default_schema)")
    parser.add_argument("--policy", metavar="FILE", help="request policy instead of the configuration's (shown)")
    parser.add_argument("--now", metavar="TIME", help="UTC time the checks use (default: the clock)")
    parser.add_argument("--yes", action="store_true", help="do not ask for the typed confirmation (tests, demos)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout (the report goes to stderr); needs --yes")
    add_format_option(parser)
    parser.set_defaults(handler=run)


def _printer(stream):
    """Prints our own rows (split at LF), each as plain visible text: file names and labels in
    them are shown() where they are put in, and anything missed is escaped here."""
    def say(*lines: str) -> None:
        print("\n".join(row for line in lines for row in shown_block(line)), file=stream, flush=True)
    return say


def confirm(prompt: str = 'Type "yes" to sign with the HSM, anything else aborts: ') -> None:
    try:
        answer = input(prompt)
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        raise RefusedError(f"signing not confirmed (answer '{shown(answer.strip())}', not 'yes'); nothing signed, "
                           "no output written")


def run(args) -> int:
    _say = _printer(sys.stderr if args.json else sys.stdout)  # the report; stdout keeps the one JSON object
    if args.json and not args.yes:
        raise UsageError("--json needs --yes: the typed confirmation is for a person at the console")
    config = load_signing_config(args.config)
    if args.output.exists():
        raise UsageError(f"{shown(str(args.output))} already exists; a response is never overwritten")
    if not args.output.parent.is_dir():
        raise UsageError(f"the output directory {shown(str(args.output.parent))} does not exist")
    policy = load_policy(args.policy or config.policy)
    now = parse_now(args.now) or datetime.now(UTC)
    ksr_data = read_input(args.ksr, "request")
    previous_data = read_input(args.previous_skr, "previous response") if args.previous_skr else None
    outcome = check_request_bytes(ksr_data, policy, previous_data, now, forced_format=args.format)
    request_fingerprint = Fingerprint.of(ksr_data)
    _say(f"Request {shown(str(args.ksr))}", f"Signing configuration: {shown(str(config.source))}",
         f"Policy: {shown(str(policy.source))}",
         f"Check time: {now.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    if outcome.request is None:
        _say(*verdict_lines(outcome.verdict), "", request_fingerprint.render("Fingerprint of the request file"))
        if args.json:
            return _json(outcome.verdict, request_fingerprint, None, None)
        raise RefusedError(f"{summary_line(outcome.verdict, 'REQUEST')}; nothing signed, no output written")
    previous = None
    if previous_data is not None and not any(v.check in ("KSR-XML", "KSR-TEXT") for v in outcome.verdict.violations):
        previous = read_response(previous_data)
    early = configured_key_tags(config, outcome.request, previous)
    if not early.valid:  # a tag clash with a configured KSK is refused before the PIN is asked
        verdict = Verdict(tuple(dict.fromkeys(outcome.verdict.checks_run + early.checks_run)),
                          outcome.verdict.violations + early.violations)
        _say("", *verdict_lines(verdict), "", summary_line(verdict, "REQUEST"), "",
             request_fingerprint.render("Fingerprint of the request file"))
        if args.json:
            return _json(verdict, request_fingerprint, None, None)
        raise RefusedError(f"{summary_line(verdict, 'REQUEST')}; nothing signed, no output written")
    notes = list(policy.relaxations()) + request_notes(outcome.request)
    if config.hsm.pin_source_note:
        notes.append(config.hsm.pin_source_note)
    with Hsm(config.hsm, pin_prompt=getpass.getpass) as hsm:
        _say("", "HSM:", *("  " + shown(line, limit=None) for line in hsm.identity.lines()))
        plan = prepare(config, hsm, outcome.request, outcome.verdict, previous, args.schema,
                       policy.requested_signers_must_match)
        notes += plan.notes
        for name, key in plan.hsm_keys.items():
            definition = config.keys[name]
            _say(f"KSK {name}: HSM label '{shown(key.label)}', id {key.id.hex()}, {key.key_type} {key.curve or key.size}; "
                 f"defined as tag {definition.key_tag}, {dnssec.algorithm_name(definition.algorithm)}"
                 + (f" ({shown(definition.description)})" if definition.description else ""))
        _say("", f"Schema: {plan.schema.name}" + (f" ({plan.schema.description})" if plan.schema.description else ""))
        if plan.bundles:
            _say("", *bundle_table([planned.preview() for planned in plan.bundles]))
        _say("", *verdict_lines(plan.verdict), *(f"NOTE  {note}" for note in notes), "",
             summary_line(plan.verdict, "REQUEST"), "", request_fingerprint.render("Fingerprint of the request file"))
        if not plan.verdict.valid:
            if args.json:
                return _json(plan.verdict, request_fingerprint, [p.preview() for p in plan.bundles], None)
            raise RefusedError(f"{summary_line(plan.verdict, 'REQUEST')}; nothing signed, no output written")
        if not args.yes:
            confirm()
        data = sign_plan(config, hsm, plan)
    write_atomically(args.output, data)
    signatures = sum(len(planned.signers) for planned in plan.bundles)
    response_fingerprint = Fingerprint.of(data)
    _say("", f"Signed {len(plan.bundles)} bundles ({signatures} signatures, each verified); "
         f"wrote {shown(str(args.output))}",
         "", response_fingerprint.render("Fingerprint of the response file"))
    if args.json:
        return _json(plan.verdict, request_fingerprint, read_response(data).bundles,
                     {"file": str(args.output), "sha256": response_fingerprint.hex, "words": response_fingerprint.words})
    return 0


def _json(verdict: Verdict, fingerprint: Fingerprint, bundles, response: dict | None) -> int:
    """verify-ksr's object (valid, sha256 and words of the request, bundles, violations) plus "response"."""
    print(json.dumps({**report_json(verdict, fingerprint, bundles), "response": response}), flush=True)
    return 0 if response is not None else 1

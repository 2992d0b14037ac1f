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
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from appliance import dnssec
from appliance.commands.verify import parse_now
from appliance.digest import Fingerprint
from appliance.errors import RefusedError, UsageError
from appliance.formats import parse_response, write_response
from appliance.formats.trust_anchor import anchor_from_key
from appliance.hsm import Hsm, HsmKey
from appliance.model import Key, Request, Response, Verdict
from appliance.policy import check_request_bytes, load_policy, validate_response
from appliance.policy.runner import run_checks
from appliance.report import bundle_table, report_json, summary_line, verdict_lines
from appliance.signer import PlannedBundle, Schema, build_response, plan_bundles, revoked
from appliance.signer_checks import PREVIOUS_RESPONSE_CHECKS, SIGNING_CHECKS, SigningContext
from appliance.signing_config import DEFAULT_CONFIG, SigningConfig, load_signing_config


def register(subparsers) -> None:
    parser = subparsers.add_parser("sign", help="check a Key Signing Request and sign it with the HSM's KSK")
    parser.add_argument("ksr", type=Path, metavar="KSR", help="the request (XML)")
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
    parser.set_defaults(handler=run)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _printer(stream):
    def say(*lines: str) -> None:
        print("\n".join(lines), file=stream, flush=True)
    return say


@dataclass(frozen=True)
class Plan:
    """Everything decided before the confirmation: what will be signed, by which keys, and the verdict."""

    request: Request
    schema: Schema
    bundles: tuple[PlannedBundle, ...]
    hsm_keys: dict[str, HsmKey]
    verdict: Verdict


def _merge(*verdicts: Verdict) -> Verdict:
    run = tuple(dict.fromkeys(c for v in verdicts for c in v.checks_run))
    return Verdict(run, tuple(x for v in verdicts for x in v.violations))


def prepare(config: SigningConfig, hsm: Hsm, request: Request, request_verdict: Verdict,
            previous: Response | None, schema_name: str | None) -> Plan:
    """Find and match the KSKs, plan the bundles, and run every check that needs them."""
    schema = config.schema(schema_name, len(request.bundles))
    names = [name for name in config.keys if name in schema.key_names()]  # configuration order
    unknown = schema.key_names() - set(names)
    if unknown:
        raise UsageError(f"schema {schema.name!r} names KSK(s) {', '.join(sorted(unknown))}, "
                         f"which the signing configuration does not define (defined: {', '.join(config.keys)})")
    definitions = {name: config.keys[name] for name in names}
    hsm_keys = {name: hsm.find_key(definition.label) for name, definition in definitions.items()}
    mismatch = run_checks(SIGNING_CHECKS[:1], _context(config, request, (), definitions, hsm_keys, (), previous))
    if not mismatch.valid:  # a key that is not the one defined cannot even be planned with
        return Plan(request, schema, (), hsm_keys, _merge(request_verdict, mismatch))
    ksks = {name: hsm_keys[name].dnskey(ttl=config.ksk_ttl, algorithm=definitions[name].algorithm,
                                        key_identifier=definitions[name].label) for name in names}
    bundles = plan_bundles(request, schema, ksks)
    token_keys = tuple(k for k in hsm.keys() if k.object_class == "private")
    checks = SIGNING_CHECKS + (PREVIOUS_RESPONSE_CHECKS if previous is not None else ())
    verdict = run_checks(checks, _context(config, request, bundles, definitions, hsm_keys, token_keys, previous))
    return Plan(request, schema, bundles, hsm_keys, _merge(request_verdict, verdict))


def _context(config, request, bundles, definitions, hsm_keys, token_keys, previous) -> SigningContext:
    return SigningContext(request=request, plan=bundles, definitions=definitions, hsm_keys=hsm_keys,
                          token_keys=token_keys, ksk_policy=config.ksk_policy, ksk_ttl=config.ksk_ttl,
                          previous=previous)


def sign_plan(config: SigningConfig, hsm: Hsm, plan: Plan) -> bytes:
    """Sign every bundle, check the whole response as read back from its bytes, and return the bytes."""
    signing_names = list(dict.fromkeys(name for planned in plan.bundles for name, _ in planned.signers))
    definitions = [config.keys[name] for name in signing_names]
    public_keys = {name: plan.hsm_keys[name].public_key for name in signing_names}
    ksk_policy = config.response_ksk_policy(definitions, public_keys)
    response = build_response(plan.request, plan.bundles, ksk_policy, config.ksk_ttl,
                              lambda name, data, algorithm: hsm.sign(plan.hsm_keys[name], data, algorithm))
    data = write_response(response, config.layout)
    # Validate what will be written, not what we meant to write: parse the bytes back.
    written = parse_response(data)
    anchors = _anchors(config, plan)
    verdict = validate_response(written, anchors, plan.request)
    if written != response:
        raise RefusedError("SKR-VERIFY: the response read back from its XML differs from the one signed; nothing written")
    if not verdict.valid:
        raise RefusedError("the signed response failed its own checks, nothing written:\n" + "\n".join(verdict_lines(verdict)))
    return data


def _anchors(config: SigningConfig, plan: Plan):
    """Trust anchors for the configured KSKs that sign, plain and revoked (a revoked KSK signs its revocation)."""
    anchors = []
    for planned in plan.bundles:
        for name, key in planned.signers:
            definition = config.keys[name]
            plain = Key(key.key_identifier, definition.key_tag, key.ttl, key.flags & ~dnssec.FLAG_REVOKE, key.protocol,
                        key.algorithm, key.public_key)
            for form in (plain, revoked(plain)):
                anchor = anchor_from_key(form, plan.request.domain, definition.valid_from, definition.valid_until)
                if anchor not in anchors:
                    anchors.append(anchor)
    return tuple(anchors)


def write_atomically(path: Path, data: bytes) -> None:
    """Temporary file in the same directory, fsync, rename over nothing, fsync the directory."""
    directory = path.parent.resolve()
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            raise UsageError(f"{path} appeared while signing; not overwritten")
        os.rename(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def confirm(prompt: str = 'Type "yes" to sign with the HSM, anything else aborts: ') -> None:
    try:
        answer = input(prompt)
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        raise RefusedError(f"signing not confirmed (answer {answer.strip()!r}, not 'yes'); nothing signed, "
                           "no output written")


def run(args) -> int:
    _say = _printer(sys.stderr if args.json else sys.stdout)  # the report; stdout keeps the one JSON object
    if args.json and not args.yes:
        raise UsageError("--json needs --yes: the typed confirmation is for a person at the console")
    config = load_signing_config(args.config)
    if args.output.exists():
        raise UsageError(f"{args.output} already exists; a response is never overwritten")
    if not args.output.parent.is_dir():
        raise UsageError(f"the output directory {args.output.parent} does not exist")
    policy = load_policy(args.policy or config.policy)
    now = parse_now(args.now) or datetime.now(UTC)
    ksr_data = _read(args.ksr, "request")
    previous_data = _read(args.previous_skr, "previous response") if args.previous_skr else None
    outcome = check_request_bytes(ksr_data, policy, previous_data, now)
    request_fingerprint = Fingerprint.of(ksr_data)
    _say(f"Request {args.ksr}", f"Signing configuration: {config.source}", f"Policy: {policy.source}",
         f"Check time: {now.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    if outcome.request is None:
        _say(*verdict_lines(outcome.verdict), "", request_fingerprint.render("Fingerprint of the request file"))
        if args.json:
            return _json(outcome.verdict, request_fingerprint, None, None)
        raise RefusedError(f"{summary_line(outcome.verdict, 'REQUEST')}; nothing signed, no output written")
    previous = None
    if previous_data is not None and not any(v.check == "KSR-XML" for v in outcome.verdict.violations):
        previous = parse_response(previous_data)
    notes = list(policy.relaxations())
    if config.hsm.pin_source_note:
        notes.append(config.hsm.pin_source_note)
    with Hsm(config.hsm, pin_prompt=getpass.getpass) as hsm:
        _say("", "HSM:", *("  " + line for line in hsm.identity.lines()))
        plan = prepare(config, hsm, outcome.request, outcome.verdict, previous, args.schema)
        for name, key in plan.hsm_keys.items():
            definition = config.keys[name]
            _say(f"KSK {name}: HSM label {key.label!r}, id {key.id.hex()}, {key.key_type} {key.curve or key.size}; "
                 f"defined as tag {definition.key_tag}, {dnssec.algorithm_name(definition.algorithm)}"
                 + (f" ({definition.description})" if definition.description else ""))
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
    _say("", f"Signed {len(plan.bundles)} bundles ({signatures} signatures, each verified); wrote {args.output}",
         "", response_fingerprint.render("Fingerprint of the response file"))
    if args.json:
        return _json(plan.verdict, request_fingerprint, parse_response(data).bundles,
                     {"file": str(args.output), "sha256": response_fingerprint.hex, "words": response_fingerprint.words})
    return 0


def _json(verdict: Verdict, fingerprint: Fingerprint, bundles, response: dict | None) -> int:
    """verify-ksr's object (valid, sha256 and words of the request, bundles, violations) plus "response"."""
    print(json.dumps({**report_json(verdict, fingerprint, bundles), "response": response}), flush=True)
    return 0 if response is not None else 1

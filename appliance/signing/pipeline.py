"""The signing pipeline shared by `ceremony sign` and the console: from a checked request and an
open HSM to the bytes of a response whose every signature has been verified.

`prepare` finds each KSK the schema names, matches it to its definition, plans every bundle and
runs the checks that need the HSM or the plan; it signs nothing. `sign_plan` signs a plan that
passed, then parses the written bytes back and validates them as a whole before returning them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from appliance import dnssec
from appliance.errors import RefusedError, UsageError
from appliance.formats import parse_response, write_response
from appliance.formats.detect import read_response
from appliance.formats.trust_anchor import anchor_from_key
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE
from appliance.model import Key, Request, Response, Verdict, Violation
from appliance.policy import validate_response
from appliance.policy.runner import run_checks
from appliance.report import verdict_lines
from appliance.signing.bundles import PlannedBundle, Schema, build_response, plan_bundles
from appliance.signing.checks import (
    PREVIOUS_RESPONSE_CHECKS,
    SIGNING_CHECKS,
    TEXT_PREVIOUS_RESPONSE_CHECKS,
    TEXT_SIGNING_CHECKS,
    SigningContext,
    ksk_exposure_notes,
    requested_signers,
)
from appliance.signing.config import SigningConfig

SKR_SIZE = "SKR-SIZE"

if TYPE_CHECKING:
    from appliance.signing.offline_ksk_bundles import TextPlannedBundle
    from appliance.hsm.keys import HsmKey
    from appliance.hsm.session import Hsm


@dataclass(frozen=True, eq=False, repr=False)  # never compared: as policy.context.RequestContext
class Plan:
    """Everything decided before the confirmation: what will be signed, by which keys, and the verdict."""

    request: Request
    schema: Schema
    bundles: tuple[PlannedBundle, ...] | tuple[TextPlannedBundle, ...]
    hsm_keys: dict[str, HsmKey]
    verdict: Verdict
    notes: tuple[str, ...] = ()  # shown and logged beside the verdict (NOTE lines)


def _merge(*verdicts: Verdict) -> Verdict:
    run = tuple(dict.fromkeys(c for v in verdicts for c in v.checks_run))
    return Verdict(run, tuple(x for v in verdicts for x in v.violations))


def prepare(config: SigningConfig, hsm: Hsm, request: Request, request_verdict: Verdict,
            previous: Response | None, schema_name: str | None, signers_must_match: bool = False) -> Plan:
    """Find and match the KSKs, plan the bundles, and run every check that needs them.

    `signers_must_match` (the policy's [checks] requested_signers_must_match) makes a request whose
    <Signer> elements differ from the schema's signers a KSR-SIGNERS refusal instead of a NOTE.
    A Knot DNS / BIND 9 request (no <Signer>s, no schema) is planned by [offline_ksk] instead."""
    if request.dialect != "icann":
        if schema_name is not None:
            raise UsageError("--schema applies to ICANN XML requests; a Knot DNS / BIND 9 request is signed "
                             "by the configuration's [offline_ksk] rules")
        return _prepare_text(config, hsm, request, request_verdict, previous)
    if config.ksk_policy is None:
        raise UsageError(f"{config.source} has no [ksk_policy]: it signs Knot DNS / BIND 9 requests only")
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
    context = _context(config, request, bundles, definitions, hsm_keys, token_keys, previous)
    notes = ksk_exposure_notes(definitions, hsm_keys)
    if schema.revoked_only_signers:
        notes.append(f"schema {schema.name}: revoked_only_signers = true: bundles signed only by a revoked KSK, "
                     "which no resolver can use (only to reproduce ICANN's 2010 test file)")
    if signers_must_match:
        checks += (("KSR-SIGNERS", requested_signers),)
    else:
        notes += [f"KSR-SIGNERS (not enforced): {message}" for message in requested_signers(context)]
    verdict = run_checks(checks, context)
    return Plan(request, schema, bundles, hsm_keys, _merge(request_verdict, verdict), tuple(notes))


def _prepare_text(config: SigningConfig, hsm: Hsm, request: Request, request_verdict: Verdict,
                  previous: Response | None) -> Plan:
    """The Knot DNS / BIND 9 plan: the configured KSKs in every bundle, times by the configured rules."""
    # Imported here: only a Knot DNS / BIND 9 request needs the text planner and writers (a tenth
    # of `ceremony sign`'s own import time for an ICANN XML request).
    from appliance.signing.offline_ksk_bundles import header_token, plan_text_bundles, response_dialect
    rules = config.offline_ksk
    if rules is None:
        raise UsageError(f"{config.source} has no [offline_ksk] table: it signs ICANN XML requests only")
    schema = Schema(f"offline-ksk ({rules.rules})", (), rules.describe())
    definitions = {name: config.keys[name] for name in rules.ksks}
    hsm_keys = {name: hsm.find_key(definition.label) for name, definition in definitions.items()}
    context = _context(config, request, (), definitions, hsm_keys, (), previous)
    mismatch = run_checks(TEXT_SIGNING_CHECKS[:1], context)
    if not mismatch.valid:
        return Plan(request, schema, (), hsm_keys, _merge(request_verdict, mismatch))
    ksks = {name: hsm_keys[name].dnskey(algorithm=definitions[name].algorithm,
                                        key_identifier=str(definitions[name].key_tag)) for name in rules.ksks}
    bundles = plan_text_bundles(request, rules, ksks, header_token(response_dialect(rules, request)))
    token_keys = tuple(k for k in hsm.keys() if k.object_class == "private")
    checks = TEXT_SIGNING_CHECKS + (TEXT_PREVIOUS_RESPONSE_CHECKS if previous is not None else ())
    verdict = run_checks(checks, _context(config, request, bundles, definitions, hsm_keys, token_keys, previous))
    notes = tuple(ksk_exposure_notes(definitions, hsm_keys))
    verdict = _merge(request_verdict, verdict, _response_size(request, bundles, rules))
    return Plan(request, schema, bundles, hsm_keys, verdict, notes)


def _response_size(request: Request, bundles: tuple[TextPlannedBundle, ...], rules) -> Verdict:
    """SKR-SIZE: the response must stay within the size every reader of responses accepts (the
    appliance's own read-back, `verify-skr`, the next ceremony's previous response), or it could
    only be refused after the HSM had signed every bundle."""
    from appliance.signing.offline_ksk_bundles import planned_response_size  # text requests only

    size = planned_response_size(request, bundles, rules)
    if size <= DEFAULT_MAX_SIZE:
        return Verdict((SKR_SIZE,))
    return Verdict((SKR_SIZE,), (Violation(SKR_SIZE, f"the response would be {size} bytes ({len(bundles)} bundles), "
                                           f"more than the {DEFAULT_MAX_SIZE} bytes a response may have; "
                                           "ask for fewer bundles per request"),))


def _context(config, request, bundles, definitions, hsm_keys, token_keys, previous) -> SigningContext:
    return SigningContext(request=request, plan=bundles, definitions=definitions, hsm_keys=hsm_keys,
                          token_keys=token_keys, ksk_policy=config.ksk_policy, ksk_ttl=config.ksk_ttl,
                          previous=previous, configured=config.keys)


def sign_plan(config: SigningConfig, hsm: Hsm, plan: Plan) -> bytes:
    """Sign every bundle, check the whole response as read back from its bytes, and return the bytes."""
    if plan.request.dialect != "icann":
        return _sign_text_plan(config, hsm, plan)
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
    verdict = validate_response(written, anchors, plan.request, revoked_only_signers=plan.schema.revoked_only_signers)
    if written != response:
        raise RefusedError("SKR-VERIFY: the response read back from its XML differs from the one signed; nothing written")
    if not verdict.valid:
        raise RefusedError("the signed response failed its own checks, nothing written:\n" + "\n".join(verdict_lines(verdict)))
    return data


def _sign_text_plan(config: SigningConfig, hsm: Hsm, plan: Plan) -> bytes:
    from appliance.signing.offline_ksk_bundles import build_text_response, write_text_response  # text requests only

    response = build_text_response(plan.request, plan.bundles, config.offline_ksk,
                                   lambda name, data, algorithm: hsm.sign(plan.hsm_keys[name], data, algorithm))
    data = write_text_response(response, plan.bundles, datetime.now(UTC))
    written = read_response(data, response.dialect)
    verdict = validate_response(written, _anchors(config, plan), plan.request)
    if written != response:
        raise RefusedError("SKR-VERIFY: the response read back from its text differs from the one signed; nothing written")
    if not verdict.valid:
        raise RefusedError("the signed response failed its own checks, nothing written:\n" + "\n".join(verdict_lines(verdict)))
    return data


def _anchors(config: SigningConfig, plan: Plan):
    """Trust anchors for the configured KSKs that sign, in their plain form only: a revoked KSK's
    signature is no KSK evidence (RFC 5011 2.1)."""
    anchors = []
    for planned in plan.bundles:
        for name, key in planned.signers:
            definition = config.keys[name]
            plain = Key(key.key_identifier, definition.key_tag, key.ttl, key.flags & ~dnssec.FLAG_REVOKE, key.protocol,
                        key.algorithm, key.public_key)
            anchor = anchor_from_key(plain, plan.request.domain, definition.valid_from, definition.valid_until)
            if anchor not in anchors:
                anchors.append(anchor)
    return tuple(anchors)

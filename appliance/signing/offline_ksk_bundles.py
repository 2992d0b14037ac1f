"""Signing a Knot DNS or BIND 9 request: the bundles each tool's signer would make, signed in the HSM.

`plan_text_bundles` decides every bundle (its time, DNSKEY RRset, CDNSKEY/CDS and signers) by the
configured tool's rules (FORMATS.md 2.3 and 3.3); `sign_text_plan` makes every RRSIG through the
HSM, verifies each in software, and writes the response in the chosen dialect. Pure except for the
`sign` callback: tested with software keys as well as with SoftHSM.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from appliance import __version__, dnssec
from appliance.errors import RefusedError
from appliance.formats.bind import write_bind_response
from appliance.formats.knot import write_knot_response
from appliance.formats.trust_anchor import ds_digest
from appliance.model import Bundle, Key, Record, Request, Response, Signature
from appliance.policy.text_checks import effective_bundles
from appliance.signing.offline_ksk_config import KNOT_RULES, OfflineKskRules

SignFunction = Callable[[str, bytes, int], bytes]  # (KSK name, RRSIG signed data, algorithm) -> signature
GENERATOR = f"ceremony {__version__}"


@dataclass(frozen=True)
class TextPlannedBundle:
    """One response bundle before signing. `request_bundle` carries its time (inception) and the
    expiration of its RRSIGs, as the bundle table shows them."""

    request_bundle: Bundle
    keys: tuple[Key, ...]  # the DNSKEY RRset in the tool's order
    records: tuple[Record, ...]  # CDNSKEY and CDS
    signers: tuple[tuple[str, Key], ...]  # (KSK name, DNSKEY)
    group: int  # index of the request bundle it answers

    def preview(self) -> Bundle:
        marks = tuple(Signature(key.key_identifier, 0, "DNSKEY", key.algorithm, 0, 0, self.request_bundle.expiration,
                                self.request_bundle.inception, key.key_tag, "", b"") for _, key in self.signers)
        return replace(self.request_bundle, keys=self.keys, signatures=marks, records=self.records)


def response_dialect(rules: OfflineKskRules, request: Request) -> str:
    return request.dialect if rules.response_format == "request" else rules.response_format


def bundle_times(request: Request, rules: OfflineKskRules) -> list[tuple[int, datetime]]:
    """(request bundle index, time) of every response bundle.

    Knot (`ksr_sign_once`): each request time, then re-signing bundles at min(previous + step,
    the next KSK event) while before the next request time; the last request time gets one
    bundle. BIND (`sign_bundle`): each request time S, then min(S + step, the next KSK event, N)
    and every step after while not after N, the next request time or `end` for the last; so a
    bundle may repeat N with the old keys (and S itself when S = N). Without `end`, BIND's last
    request time gets one bundle. The only KSK event modelled is `cds_from` (SyncPublish).
    """
    step = rules.refresh_step
    events = [rules.cds_from] if rules.cds_from is not None else []
    asked = effective_bundles(request.bundles)
    times = []
    for position, (index, bundle) in enumerate(asked):
        start = bundle.inception
        following = asked[position + 1][1].inception if position + 1 < len(asked) else None
        times.append((index, start))
        if rules.rules == KNOT_RULES:
            moment = _next(start, step, events)
            while following is not None and moment < following:
                times.append((index, moment))
                moment = _next(moment, step, events)
            continue
        if following is None:
            following = rules.end if rules.end is not None and rules.end >= start else None
        if following is None:
            continue
        moment = min(_next(start, step, events), following)
        while moment <= following:
            times.append((index, moment))
            moment += step
    return times


def _next(moment: datetime, step, events: list[datetime]) -> datetime:
    return min([moment + step, *(e for e in events if e > moment)])


def _cds(key: Key, domain: str, digest_type: int, ttl: int) -> Record:
    digest = ds_digest(key, digest_type, domain)
    return Record("CDS", ttl, struct.pack("!HBB", key.key_tag, key.algorithm, digest_type) + digest)


def plan_text_bundles(request: Request, rules: OfflineKskRules, ksks: Mapping[str, Key],
                      token_of: Callable[[datetime], str]) -> tuple[TextPlannedBundle, ...]:
    """Every bundle of the response. `ksks`: each configured KSK's DNSKEY (flags 257); `token_of`
    writes a bundle time as the response dialect's header does (its bundle id)."""
    plan = []
    for index, moment in bundle_times(request, rules):
        zsks = request.bundles[index].keys
        ttl = rules.dnskey_ttl if rules.dnskey_ttl is not None else zsks[-1].ttl
        published = [replace(ksks[name], ttl=ttl) for name in rules.ksks]
        zsks = tuple(replace(k, ttl=ttl) for k in zsks)
        if rules.rules == KNOT_RULES:  # Knot writes the RRset in canonical order (RFC 4034 6.3)
            keys = tuple(sorted((*zsks, *published), key=dnssec.dnskey_rdata))
        else:  # BIND: the KSKs, then the request's ZSKs as they came
            keys = (*published, *zsks)
        sync_ttl = 0 if rules.rules == KNOT_RULES else ttl  # Knot writes CDS/CDNSKEY with TTL 0
        syncing = rules.cds_cdnskey if rules.cds_from is None or moment >= rules.cds_from else ()
        records = [Record("CDNSKEY", sync_ttl, dnssec.dnskey_rdata(ksks[name])) for name in syncing]
        records += [_cds(ksks[name], request.domain, digest, sync_ttl)
                    for name in syncing for digest in rules.cds_digest_types]
        shown = Bundle(id=token_of(moment), inception=moment, expiration=moment + rules.rrsig_lifetime,
                       keys=zsks, signatures=())
        plan.append(TextPlannedBundle(shown, tuple(keys), tuple(records),
                                      tuple((name, replace(ksks[name], ttl=ttl)) for name in rules.ksks), index))
    return tuple(plan)


def _rdatas(planned: TextPlannedBundle, rtype: str) -> list[bytes]:
    if rtype == "DNSKEY":
        return [dnssec.dnskey_rdata(k) for k in planned.keys]
    return [r.rdata for r in planned.records if r.rtype == rtype]


def _covered_types(planned: TextPlannedBundle, rules: OfflineKskRules) -> list[str]:
    present = {r.rtype for r in planned.records}
    order = ("DNSKEY", "CDS", "CDNSKEY") if rules.rules == KNOT_RULES else ("DNSKEY", "CDNSKEY", "CDS")
    return [t for t in order if t == "DNSKEY" or t in present]


def sign_text_bundle(planned: TextPlannedBundle, domain: str, rules: OfflineKskRules, sign: SignFunction) -> Bundle:
    """The bundle with an RRSIG per signing KSK over each RRset, each verified before it is kept."""
    moment = planned.request_bundle.inception
    signatures = []
    for rtype in _covered_types(planned, rules):
        ttl = planned.keys[0].ttl if rtype == "DNSKEY" else next(r.ttl for r in planned.records if r.rtype == rtype)
        for name, key in planned.signers:
            template = Signature(
                key_identifier=key.key_identifier, ttl=ttl, type_covered=rtype, algorithm=key.algorithm,
                labels=dnssec.label_count(domain), original_ttl=ttl, expiration=moment + rules.rrsig_lifetime,
                inception=moment - rules.inception_offset, key_tag=key.key_tag, signers_name=domain,
                signature_data=b"")
            data = dnssec.rrset_signed_data(template, _rdatas(planned, rtype), domain)
            signature = replace(template, signature_data=sign(name, data, key.algorithm))
            records = [(r.ttl, r.rdata) for r in planned.records if r.rtype == rtype]
            try:
                dnssec.verify_rrset_signature(signature, key, planned.keys, records, domain)
            except dnssec.SignatureInvalid as exc:
                raise RefusedError(f"SKR-VERIFY: the HSM's RRSIG({rtype}) by KSK {name} (tag {key.key_tag}) on "
                                   f"bundle {planned.request_bundle.id} does not verify: {exc}; nothing was written") from None
            signatures.append(signature)
    expiration = min((s.expiration for s in signatures), default=moment)
    return Bundle(id=planned.request_bundle.id, inception=moment, expiration=expiration, keys=planned.keys,
                  signatures=tuple(signatures), records=planned.records)


def build_text_response(request: Request, plan: tuple[TextPlannedBundle, ...], rules: OfflineKskRules,
                        sign: SignFunction) -> Response:
    bundles = tuple(sign_text_bundle(planned, request.domain, rules, sign) for planned in plan)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    span = f"{bundles[0].inception.strftime(stamp)}/{bundles[-1].inception.strftime(stamp)}" if bundles else ""
    return Response(id=span, serial=0, domain=request.domain, ksk_policy=None, zsk_policy=None, bundles=bundles,
                    dialect=response_dialect(rules, request))


def write_text_response(response: Response, plan: tuple[TextPlannedBundle, ...], generated_at: datetime) -> bytes:
    """The response in its dialect's layout; BIND's blank lines fall where the next request bundle begins."""
    if response.dialect == "knot":
        return write_knot_response(response, generated_at, GENERATOR)
    starts = {i for i, planned in enumerate(plan) if i and planned.group != plan[i - 1].group}
    return write_bind_response(response, generated_at, GENERATOR, starts)


def header_token(dialect: str) -> Callable[[datetime], str]:
    """How a bundle time is written in the dialect's headers (and so the bundle's id once read back)."""
    if dialect == "knot":
        return lambda moment: str(int(moment.timestamp()))
    return lambda moment: moment.strftime("%Y%m%d%H%M%S")


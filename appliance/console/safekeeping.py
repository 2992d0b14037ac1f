"""Nothing signed is lost unknowingly: a response stays in memory until it is verified on a stick,
and a request signed a second time in the same ceremony is said to be so.

    safekeeping.signed(ceremony, request, response_name, response)   # after the HSM signed
    safekeeping.verified(ceremony, response_name, stick)             # after a verified write
    await safekeeping.write_kept(ceremony, key)    # offers a kept response again (another stick)
    safekeeping.broken(ceremony, request, ...)      # a signing the HSM left part-way: no response
    await safekeeping.confirm_second_signing(ceremony) -> bool

The ceremony log records every signing, every response kept and where each was verified.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from appliance.closing_record import SignedRequest
from appliance.console import log_pdf, sticks
from appliance.digest import Fingerprint
from appliance.text import shown

AGAIN = "again"


def signed_content(plan) -> str:
    """SHA-256 (hex) of what a signing of `plan` (`signing.pipeline.Plan`) puts under the KSK: the
    zone and, bundle by bundle, the RRSIG's validity and the DNSKEY RRset (RFC 4034 section 3.1.8.1:
    what an RRSIG covers). Two requests with the same are the same request to sign, whatever their
    bytes: the same bundles sent again in a new layout, with a new timestamp or under a new name."""
    bundles = sorted(
        (b.request_bundle.inception.isoformat(), b.request_bundle.expiration.isoformat(),
         sorted((k.flags, k.protocol, k.algorithm, k.public_key.hex(), k.ttl) for k in b.keys))
        for b in plan.bundles)
    return Fingerprint.of(repr((plan.request.domain.lower(), bundles)).encode()).hex


def _signed_before(ceremony, digest: str, content: str) -> tuple[list[Signing], list[BrokenSigning]]:
    """The signings and the broken-off signings of this ceremony of the same request: the same
    bytes (`digest`) or the same signed content (`content`, `signed_content`)."""
    def same(earlier) -> bool:
        return earlier.request_sha256 == digest or earlier.content_sha256 == content
    return ([s for s in ceremony.signings if same(s)], [b for b in ceremony.broken_signings if same(b)])


@dataclass
class Signing:
    """One signing of a request in this ceremony, and where its response was verified."""

    request_name: str
    request_sha256: str  # hex
    content_sha256: str  # hex, `signed_content`
    response_name: str
    response: bytes
    signed_at: str  # the ceremony clock, `%H:%M:%S` UTC
    record: SignedRequest  # the closing record's entry, its stick filled in once verified
    verified_on: str | None = None  # the stick's description, once verified there


@dataclass
class BrokenSigning:
    """A signing the HSM left part-way (it went away): it produced no response, but the HSM may
    have made some of its signatures, so signing the request again is a second signing."""

    request_name: str
    request_sha256: str  # hex
    content_sha256: str  # hex, `signed_content`
    started_at: str  # the ceremony clock, `%H:%M:%S` UTC
    made: int  # signatures the HSM returned
    total: int  # signatures the response needed
    unknown: bool  # the HSM was asked for one more and never answered: whether it made it is unknown
    check: str  # HSM-NO-ANSWER or HSM-LINK-LOST

    def describe(self) -> str:
        asked = f"; whether it made signature {self.made + 1} is unknown" if self.unknown else ""
        return (f"at {self.started_at} UTC, stopped by {self.check} after {self.made} of {self.total} "
                f"signatures{asked}: NO response was made, nothing was written")


def broken(ceremony, request_name: str, request: bytes, started_at: str, made: int, total: int, unknown: bool,
           check: str) -> BrokenSigning:
    """Records and logs a signing the HSM left part-way."""
    attempt = BrokenSigning(request_name, Fingerprint.of(request).hex, signed_content(ceremony.current.plan),
                            started_at, made, total, unknown, check)
    ceremony.broken_signings.append(attempt)
    ceremony.log.note(f"Signing of {shown(request_name)} (SHA-256 {attempt.request_sha256}) broken off: "
                      f"{attempt.describe()}")
    return attempt


def kept(ceremony) -> list[Signing]:
    """The responses signed in this ceremony and verified on no stick yet."""
    return [s for s in ceremony.signings if s.verified_on is None]


def signed(ceremony, request_name: str, request: bytes, response_name: str, response: bytes,
           record: SignedRequest) -> None:
    """Keeps the response until a write of it is verified; logs the signing."""
    signing = Signing(request_name, Fingerprint.of(request).hex, signed_content(ceremony.current.plan),
                      response_name, response, f"{ceremony.clock.now():%H:%M:%S}", record)
    earlier, broken_off = _signed_before(ceremony, signing.request_sha256, signing.content_sha256)
    ceremony.signings.append(signing)
    count = len(earlier) + len(broken_off)
    also = f", after {len(broken_off)} broken off part-way" if broken_off else ""
    ordinal = f" (signing number {count + 1} of this request in this ceremony{also})" if count else ""
    ceremony.log.note(f"Signed {shown(request_name)} at {signing.signed_at} UTC{ordinal}: {shown(response_name)}, "
                      f"{len(response)} bytes, SHA-256 {Fingerprint.of(response).hex}; kept in memory "
                      "until verified on a stick")


def given_up(response_name: str) -> str:
    """The failure recorded when a signed response was written to no stick (step 5, code 4)."""
    return f"{shown(response_name)}: signed but written to no stick"


def verified(ceremony, response_name: str, stick_description: str) -> None:
    """The kept response `response_name` is verified on a stick: it need no longer be kept, and a
    failure recorded when its write was given up is made good (it no longer sets the exit code)."""
    for signing in kept(ceremony):
        if signing.response_name == response_name:
            signing.verified_on = stick_description
            ceremony.signed.append(replace(signing.record, stick=stick_description))  # the closing record
            ceremony.log.note(f"{shown(response_name)} (signed at {signing.signed_at} UTC) verified on "
                              f"{stick_description}")
            ceremony.made_good(given_up(response_name), f"verified later on {stick_description}")
            return


async def write_kept(ceremony, key: str) -> None:
    """Each response signed but verified on no stick is shown and written again, to a stick the
    operators give (the log goes with it). Giving up is said and logged; the response stays kept."""
    for signing in kept(ceremony):
        ceremony.ui.add(["", f"SIGNED BUT ON NO STICK: {shown(signing.response_name)} (signed at {signing.signed_at} UTC "
                             f"from {shown(signing.request_name)}), kept in memory.",
                         "It is written now, with the log, to the stick you give."])
        ceremony.log.note(f"Writing the kept response {shown(signing.response_name)} again")
        report = await sticks.write_until_done(
            ceremony, key, None,
            lambda signing=signing: {signing.response_name: signing.response, **log_pdf.log_files(ceremony)},
            f"for the kept response {shown(signing.response_name)} and the log")
        if report is None:
            ceremony.ui.add([f"{shown(signing.response_name)} is still on NO stick; it is offered again later, "
                             "and lost when the ceremony ends."])
            continue
        verified(ceremony, signing.response_name, report.stick.describe())


def _other_bytes(earlier, digest: str) -> str:
    """Names the request signed before when its bytes were not these (the same bundles)."""
    if earlier.request_sha256 == digest:
        return ""
    return (f" from {shown(earlier.request_name)}, request SHA-256 {earlier.request_sha256} (other bytes, "
            "the same zone, bundles and keys)")


async def confirm_second_signing(ceremony) -> bool:
    """When the current request was signed before in this ceremony: says so, with when and where
    its response went, and asks for 'again'. True to sign (first time, or 'again' typed)."""
    current = ceremony.current
    digest = Fingerprint.of(current.data).hex
    content = signed_content(current.plan)
    earlier, broken_off = _signed_before(ceremony, digest, content)
    if not earlier and not broken_off:
        return True
    lines = [f"THIS REQUEST WAS SIGNED BEFORE IN THIS CEREMONY ({len(earlier) + len(broken_off)} time(s)), "
             f"SHA-256 {digest}:"]
    lines += [f"  at {s.signed_at} UTC as {shown(s.response_name)}{_other_bytes(s, digest)}: "
              + (f"verified on {s.verified_on}" if s.verified_on else "on NO stick (kept in memory)")
              for s in earlier]
    lines += [f"  PART-WAY{_other_bytes(b, digest)} {b.describe()}" for b in broken_off]
    lines += ["Signing it again makes another response, with new signatures."]
    ceremony.ui.add(lines)
    answer = await ceremony.ui.ask("verbal.again", f"Type '{AGAIN}' to sign it again (anything else: do not sign):")
    if answer.lower() != AGAIN:
        ceremony.ui.add(["Not signed again."])
        ceremony.log.note(f"Second signing of {shown(current.name)} (SHA-256 {digest}) declined")
        return False
    before = f"{len(earlier)} complete, {len(broken_off)} broken off part-way with no response"
    ceremony.log.note(f"SECOND SIGNING of {shown(current.name)} (SHA-256 {digest}; signed before: {before}), "
                      "confirmed by the operators")
    return True

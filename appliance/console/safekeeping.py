"""Nothing signed is lost unknowingly: a response stays in memory until it is verified on a stick,
and a request signed a second time in the same ceremony is said to be so.

    safekeeping.signed(ceremony, request, response_name, response)   # after the HSM signed
    safekeeping.verified(ceremony, response_name, stick)             # after a verified write
    await safekeeping.write_kept(ceremony, key)    # offers a kept response again (another stick)
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


@dataclass
class Signing:
    """One signing of a request in this ceremony, and where its response was verified."""

    request_name: str
    request_sha256: str  # hex
    response_name: str
    response: bytes
    signed_at: str  # the ceremony clock, `%H:%M:%S` UTC
    record: SignedRequest  # the closing record's entry, its stick filled in once verified
    verified_on: str | None = None  # the stick's description, once verified there


def kept(ceremony) -> list[Signing]:
    """The responses signed in this ceremony and verified on no stick yet."""
    return [s for s in ceremony.signings if s.verified_on is None]


def signed(ceremony, request_name: str, request: bytes, response_name: str, response: bytes,
           record: SignedRequest) -> None:
    """Keeps the response until a write of it is verified; logs the signing."""
    signing = Signing(request_name, Fingerprint.of(request).hex, response_name, response,
                      f"{ceremony.clock.now():%H:%M:%S}", record)
    earlier = [s for s in ceremony.signings if s.request_sha256 == signing.request_sha256]
    ceremony.signings.append(signing)
    ordinal = f" (signing number {len(earlier) + 1} of this request in this ceremony)" if earlier else ""
    ceremony.log.note(f"Signed {shown(request_name)} at {signing.signed_at} UTC{ordinal}: {shown(response_name)}, "
                      f"{len(response)} bytes, SHA-256 {Fingerprint.of(response).hex}; kept in memory "
                      "until verified on a stick")


def verified(ceremony, response_name: str, stick_description: str) -> None:
    """The kept response `response_name` is verified on a stick: it need no longer be kept."""
    for signing in kept(ceremony):
        if signing.response_name == response_name:
            signing.verified_on = stick_description
            ceremony.signed.append(replace(signing.record, stick=stick_description))  # the closing record
            ceremony.log.note(f"{shown(response_name)} (signed at {signing.signed_at} UTC) verified on "
                              f"{stick_description}")
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


async def confirm_second_signing(ceremony) -> bool:
    """When the current request was signed before in this ceremony: says so, with when and where
    its response went, and asks for 'again'. True to sign (first time, or 'again' typed)."""
    current = ceremony.current
    digest = Fingerprint.of(current.data).hex
    earlier = [s for s in ceremony.signings if s.request_sha256 == digest]
    if not earlier:
        return True
    lines = [f"THIS REQUEST WAS SIGNED BEFORE IN THIS CEREMONY ({len(earlier)} time(s)), SHA-256 {digest}:"]
    lines += [f"  at {s.signed_at} UTC as {shown(s.response_name)}: "
              + (f"verified on {s.verified_on}" if s.verified_on else "on NO stick (kept in memory)")
              for s in earlier]
    lines += ["Signing it again makes another response, with new signatures."]
    ceremony.ui.add(lines)
    answer = await ceremony.ui.ask("verbal.again", f"Type '{AGAIN}' to sign it again (anything else: do not sign):")
    if answer.lower() != AGAIN:
        ceremony.ui.add(["Not signed again."])
        ceremony.log.note(f"Second signing of {shown(current.name)} (SHA-256 {digest}) declined")
        return False
    ceremony.log.note(f"SECOND SIGNING of {shown(current.name)} (SHA-256 {digest}), confirmed by the operators")
    return True

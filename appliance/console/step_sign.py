"""Step 5: sign every bundle with the KSK in the HSM, then write the response and the log, verified."""

from __future__ import annotations

import re

from appliance import safefile
from appliance.closing_record import SignedRequest
from appliance.console import checking, hsm_lost, log_pdf, safekeeping, sticks
from appliance.console.flow import Ceremony, Step
from appliance.console.step_verbal import hash_screen
from appliance.digest import Fingerprint
from appliance.errors import EXIT_MEDIA, CeremonyError, HsmError
from appliance.formats.detect import read_response
from appliance.report import BUNDLE_TABLE_LEGEND, bundle_table
from appliance.text import shown


_NOT_ON_FAT = set('<>:"/\\|?*')


def response_name(request_name: str) -> str:
    """ICANN's naming: ksr-root-2017-q2-0.xml is answered by skr-root-2017-q2-0.xml (root.ksr.txt by
    root.skr.txt).

    Any other name gets "skr-" in front. The name is ours to choose, so it is made writable on any
    stick: a character shown() would escape (invisible, a control) or FAT refuses (<>:"/\\|?*),
    and a space at either end, becomes "_", and a result longer than one directory entry allows
    (255 bytes) is shortened before its extension, so a response signed can always be written.
    """
    text_form = re.search(r"\.ksr\.", request_name, re.IGNORECASE)
    if text_form:
        name = request_name[:text_form.start()] + ".skr." + request_name[text_form.end():]
    elif request_name.lower().startswith("ksr"):
        name = "skr" + request_name[3:]
    else:
        name = "skr-" + request_name
    name = "".join("_" if shown(char, limit=None) != char or char in _NOT_ON_FAT else char for char in name)
    # Spaces at either end cannot be seen; at the start they would read as our indentation where
    # the name leads a row (the write report).
    name = re.sub(r"^ +| +$", lambda spaces: "_" * len(spaces.group()), name)
    stem, dot, extension = name.rpartition(".")
    suffix = dot + extension if stem and len(extension) <= 8 else ""
    body = name[: len(name) - len(suffix)]
    while not safefile.fits_name(body + suffix):
        body = body[:-1]
    return body + suffix


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    current = ceremony.current
    signatures = sum(len(planned.signers) for planned in current.plan.bundles)
    bundles = len(current.plan.bundles)
    ui.show(Step.SIGN.heading, [f"Signing {shown(current.name)}: {bundles} bundles, {signatures} signatures."])
    count = checking.SignatureCount(ceremony.hsm)
    started_at = f"{ceremony.clock.now():%H:%M:%S}"
    try:
        data = await ui.work("Signing with the HSM; every signature is verified in software ...",
                             checking.sign, ceremony, current, count)
    except CeremonyError as exc:
        if hsm_lost.is_lost(ceremony, exc):
            return await _broken_off(ceremony, exc, count, signatures, started_at)
        if isinstance(exc, HsmError):
            ceremony.hsm_state = "failed, see the screen"
        ui.add([f"SIGNING FAILED: {shown(str(exc), limit=None)}", "Nothing was signed or written."])
        ceremony.log.error(f"Signing {shown(current.name)} failed: {shown(str(exc), limit=None)}")
        ceremony.fail(exc.exit_code, f"{shown(current.name)}: signing failed: {shown(str(exc), limit=None)}")
        await ui.ask("sign.failed", "SIGNING FAILED. Press Enter to continue:")
        return Step.NEXT
    name = response_name(current.name)
    safekeeping.signed(ceremony, current.name, current.data, name, data, _signed(ceremony, name, data, ""))
    hashed = hash_screen(Fingerprint.of(data), f"the response ({len(data)} bytes)", name)
    # The response's own bundles, as signed (read back from its bytes), as the 2015 ceremony printed them.
    table = ["The response's bundles:"] + bundle_table(read_response(data).bundles) + [BUNDLE_TABLE_LEGEND]
    ui.show(Step.SIGN.heading, hashed + [
        "",
        f"Signed: {bundles} bundles, {signatures} signatures, each verified in software.",
        "",
        *table,
        "",
        "The response and the log go to the request's stick, or to another ('other').",
    ])
    where = await ui.ask("sign.where", f"Enter: write to {shown(current.stick.name, limit=30)}; or type 'other':")
    other = where.lower() == "other"
    report = await sticks.write_until_done(
        ceremony, "sign.stick", None if other else current.stick,
        lambda: {name: data, **log_pdf.log_files(ceremony)},
        "for the response and the log", exclude=current.stick if other else None, protect=name)
    if report is None:
        ui.add(["The response was signed but is NOT on any stick. It is kept in memory and offered",
                "again before the next request and at the shutdown; it is lost when the ceremony ends."])
        ceremony.fail(EXIT_MEDIA, safekeeping.given_up(name))
    else:
        safekeeping.verified(ceremony, name, report.stick.describe())
        # The outcome first, where the operators look; then the hash and the table again, whole,
        # now that the file is on the stick (the write scrolled them away).
        ui.show(Step.SIGN.heading, [
            f"Written and verified on {report.stick.describe()}, with the log {ceremony.log.filename}.",
            f"The stick {shown(report.stick.name)} may be removed now.",
            "",
            *hashed,
            "",
            *table,
        ])
    await ui.ask("sign.done", "Press Enter to continue:")
    return Step.NEXT


async def _broken_off(ceremony: Ceremony, exc: HsmError, count: checking.SignatureCount, total: int,
                      started_at: str) -> Step:
    """The HSM went away part-way: no response exists (it is made only once every signature is
    in and verified), nothing was written; the attempt is kept, so signing again is said to be
    a second signing."""
    current = ceremony.current
    attempt = safekeeping.broken(ceremony, current.name, current.data, started_at, count.made, total,
                                 unknown=count.asked > count.made, check=hsm_lost.failure_id(exc))
    asked = (f"It was asked for signature {count.asked}: whether it made that one is unknown."
             if attempt.unknown else "")
    await hsm_lost.end_session(ceremony, exc, f"while signing {shown(current.name)}", [
        f"The HSM returned {count.made} of the {total} signatures. {asked}".rstrip(),
        "NO response was made: nothing was written, nothing half-written, to any stick.",
        "Signing this request again (after 'reconnect' and 'another') is a SECOND signing, said as such."])
    await ceremony.ui.ask("sign.failed", "SIGNING BROKEN OFF. Press Enter to continue:")
    return Step.NEXT


def _signed(ceremony: Ceremony, name: str, data: bytes, stick: str) -> SignedRequest:
    """The closing record's entry for a response; `stick` says where it was verified."""
    current = ceremony.current
    signers = dict.fromkeys(signer for planned in current.plan.bundles for signer, _ in planned.signers)
    ksks = tuple(f"{signer}: tag {ceremony.config.keys[signer].key_tag}, HSM label "
                 f"{current.plan.hsm_keys[signer].label!r}" for signer in signers)
    return SignedRequest(current.name, Fingerprint.of(current.data).sha256, name, Fingerprint.of(data).sha256,
                         len(current.plan.bundles), ksks, stick)

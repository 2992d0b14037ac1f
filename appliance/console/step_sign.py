"""Step 5: sign every bundle with the KSK in the HSM, then write the response and the log, verified."""

from __future__ import annotations

from appliance.console import checking, printing, sticks
from appliance.console.flow import Ceremony, Step
from appliance.console.step_verbal import hash_screen
from appliance.digest import Fingerprint
from appliance.errors import CeremonyError, HsmError
from appliance.text import shown


def response_name(request_name: str) -> str:
    """ICANN's naming: ksr-root-2017-q2-0.xml is answered by skr-root-2017-q2-0.xml (root.ksr.txt by root.skr.txt)."""
    if ".ksr." in request_name.lower():
        at = request_name.lower().index(".ksr.")
        return request_name[:at] + ".skr." + request_name[at + 5:]
    if request_name.lower().startswith("ksr"):
        return "skr" + request_name[3:]
    return "skr-" + request_name


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    current = ceremony.current
    signatures = sum(len(planned.signers) for planned in current.plan.bundles)
    bundles = len(current.plan.bundles)
    ui.show(Step.SIGN.heading, [f"Signing {shown(current.name)}: {bundles} bundles, {signatures} signatures."])
    try:
        data = await ui.work("Signing with the HSM; every signature is verified in software ...",
                             checking.sign, ceremony, current)
    except CeremonyError as exc:
        if isinstance(exc, HsmError):
            ceremony.hsm_state = "failed, see the screen"
        ui.add([f"SIGNING FAILED: {shown(str(exc), limit=None)}", "Nothing was signed or written."])
        ceremony.log.error(f"Signing {shown(current.name)} failed: {shown(str(exc), limit=None)}")
        await sticks.write_log(ceremony, "log.stick", current.stick)
        return Step.NEXT
    name = response_name(current.name)
    hashed = hash_screen(Fingerprint.of(data), f"the response ({len(data)} bytes)", name)
    ui.show(Step.SIGN.heading, hashed + [
        "",
        f"Signed: {bundles} bundles, {signatures} signatures, each verified in software.",
        "The response and the log go to the request's stick, or to another ('other').",
    ])
    where = await ui.ask("sign.where", f"Enter: write to {shown(current.stick.name, limit=30)}; or type 'other':")
    other = where.lower() == "other"
    report = await sticks.write_until_done(
        ceremony, "sign.stick", None if other else current.stick,
        lambda: {name: data, **printing.log_files(ceremony)},
        "for the response and the log", exclude=current.stick if other else None, protect=name)
    if report is None:
        ui.add(["The response was signed but is NOT on any stick. It is lost when the ceremony ends."])
    else:
        ceremony.requests_signed += 1
        # The hash again, whole, now that the file is on the stick (the write scrolled it away).
        ui.show(Step.SIGN.heading, hashed + [
            "",
            f"Written and verified on {report.stick.describe()}, with the log {ceremony.log.filename}.",
            f"The stick {shown(report.stick.name)} may be removed now.",
        ])
    await ui.ask("sign.done", "Press Enter to continue:")
    return Step.NEXT

"""Step 2: load the HSM profile, log in with the PIN typed unseen, show the HSM and its KSKs."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import dnssec
from appliance.console import sticks
from appliance.console.flow import Ceremony, Step
from appliance.errors import CeremonyError, HsmError
from appliance.settings import DEFAULT_CONFIG

# The HSM and signing code (python-pkcs11 among it) loads when this step runs, not with the console:
# the first screen must come up fast.
if TYPE_CHECKING:
    from appliance.hsm import Hsm
    from appliance.signing.config import SigningConfig

# Where the image carries its configuration; without it, the operators bring it on a stick.
IMAGE_CONFIG = DEFAULT_CONFIG
STICK_CONFIG = "ceremony.toml"


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ui.show(Step.HSM.heading, ["Activate the HSM.", ""])
    if ceremony.config is None:
        ceremony.config = await _configuration(ceremony)
        if ceremony.config is None:
            ui.add(["No configuration: the ceremony cannot continue."])
            return Step.SHUTDOWN
    profile = ceremony.config.hsm
    if profile.pin_source_note:
        ui.add([f"NOTE: {profile.pin_source_note}."])
    hsm = await _log_in(ceremony, profile)
    if hsm is None:
        ceremony.hsm_state = "not logged in"
        ui.add(["The HSM is not activated: nothing can be signed. The ceremony ends."])
        return Step.SHUTDOWN
    ceremony.hsm = hsm
    ceremony.hsm_state = f"logged in, {hsm.identity.token_label}"
    try:
        keys = await ui.work("Reading the keys on the token ...", hsm.keys)
    except HsmError as exc:
        ceremony.hsm_state = "failed, see the screen"
        ui.add([f"HSM ERROR: {exc}", "The ceremony ends."])
        return Step.SHUTDOWN
    ui.show(Step.HSM.heading, ["HSM activated.", ""] + hsm.identity.lines() + [""] + key_table(keys)
            + [""] + definitions(ceremony.config))
    await ui.ask("hsm.seen", "Press Enter to continue to the request:")
    return Step.REQUEST


def key_table(keys) -> list[str]:
    """The private keys on the token, with the key tag each has as a KSK (flags 257)."""
    private = [k for k in keys if k.object_class == "private"]
    if not private:
        return ["No private keys on this token."]
    rows = [f"Keys on the token ({len(private)}):",
            f"  {'Label':<16} {'Algorithm':<18} {'Size':>5}  {'KSK tag':>7}  {'Revoked tag':>11}"]
    for key in private:
        tag = revoked = "-"
        if key.public_key is not None and key.algorithm is not None:
            tag = str(key.dnskey().key_tag)
            revoked = str(key.dnskey(flags=dnssec.FLAG_ZONE | dnssec.FLAG_SEP | dnssec.FLAG_REVOKE).key_tag)
        algorithm = dnssec.algorithm_name(key.algorithm) if key.algorithm else key.key_type
        size = key.curve or str(key.size or "-")
        rows.append(f"  {key.label[:16]:<16} {algorithm[:18]:<18} {size:>5}  {tag:>7}  {revoked:>11}")
    return rows


def definitions(config) -> list[str]:
    """The KSKs the configuration allows, each checked against the HSM's key before signing."""
    rows = [f"KSKs in the configuration {config.source.name} (schema {config.default_schema} unless told):"]
    for name, key in config.keys.items():
        until = f" until {key.valid_until:%Y-%m-%d}" if key.valid_until else ""
        rows.append(f"  {name}: label {key.label!r}, tag {key.key_tag}, "
                    f"{dnssec.algorithm_name(key.algorithm)} {key.size}, valid from {key.valid_from:%Y-%m-%d}{until}")
    return rows


async def _configuration(ceremony: Ceremony) -> SigningConfig | None:
    """The command line's configuration, the image's, or one from a stick; None if there is none."""
    from appliance.signing.config import load_signing_config

    ui = ceremony.ui
    fixed = ceremony.settings.config or (IMAGE_CONFIG if IMAGE_CONFIG.is_file() else None)
    if fixed is not None:
        try:
            return await ui.work(f"Reading the configuration {fixed} ...", load_signing_config, fixed)
        except CeremonyError as exc:
            ui.add([f"The configuration cannot be used: {exc}"])
            return None  # nothing else to try: the operators named it, or the image carries it
    while True:
        stick = await sticks.choose_stick(ceremony, "hsm.config", f"with the configuration {STICK_CONFIG}")
        if stick is None:
            return None
        try:
            config, text = await ui.work(f"Reading {STICK_CONFIG} from {stick.describe()} ...",
                                         _from_stick, ceremony.media, stick)
        except CeremonyError as exc:  # unreadable (a MediaError) or unusable
            ui.add([f"The configuration cannot be used: {exc}"])
            how, answer = await ui.ask_or_wait(
                "hsm.config.other", f"Insert a stick with a usable {STICK_CONFIG}, or Enter to read again "
                                    "(or 'cancel'):", ceremony.watch.change(ceremony.media, ceremony.media.sticks()))
            if how == "typed" and answer.lower() == sticks.CANCEL:
                return None
            continue
        ceremony.log.note(f"Configuration {STICK_CONFIG} read from {stick.describe()}", text)
        return config


def _from_stick(media, stick) -> tuple[SigningConfig, str]:
    """The configuration on a stick, and its text for the log (runs in the worker)."""
    from appliance.signing.config import load_signing_config

    data = media.read_file(stick, STICK_CONFIG, 64 * 1024)
    # Read from a private copy that is gone once loaded: nothing of the session may stay on the
    # laptop, and relative paths in the file then point nowhere, on purpose.
    with tempfile.TemporaryDirectory(prefix="ceremony-config-") as folder:
        copy = Path(folder) / STICK_CONFIG
        copy.write_bytes(data)
        return load_signing_config(copy), data.decode("utf-8", "replace")


async def _log_in(ceremony: Ceremony, profile) -> Hsm | None:
    from appliance.hsm import Hsm, HsmPinIncorrect, HsmPinLocked

    ui = ceremony.ui
    loop = asyncio.get_running_loop()

    async def ask_pin(text: str) -> str:
        ui.add([text.rstrip().rstrip(":")])
        return await ui.ask("hsm.pin", "PIN (typing is not shown):", hidden=True)

    def pin_prompt(text: str) -> str:
        # Called by the HSM layer in the worker thread: the question itself runs on the loop.
        return asyncio.run_coroutine_threadsafe(ask_pin(text), loop).result()

    for attempt in range(1, ceremony.settings.hsm_attempts + 1):
        hsm = Hsm(profile, pin_prompt)
        ceremony.hsm_state = "opening"
        try:
            await ui.work(f"Opening {profile.token.describe()} with {profile.module} ...", hsm.open)
            return hsm
        except HsmPinLocked as exc:
            ui.add([f"PIN LOCKED: {exc}"])
            ceremony.log.error(str(exc))
            return None
        except HsmPinIncorrect as exc:
            ceremony.log.error(str(exc))
            left = ceremony.settings.hsm_attempts - attempt
            ui.add([f"WRONG PIN: {exc}.", f"{left} more attempt(s) allowed in this ceremony."])
        except HsmError as exc:
            ceremony.log.error(str(exc))
            ui.add([f"HSM ERROR: {exc}"])
        except CeremonyError as exc:
            ceremony.log.error(str(exc))
            ui.add([f"CONFIGURATION ERROR: {exc}"])
            return None
        ceremony.hsm_state = "not logged in"
        if attempt == ceremony.settings.hsm_attempts:
            return None
        answer = await ui.ask("hsm.retry", "Try again? Type 'yes' (anything else ends the ceremony):")
        if answer.lower() != "yes":
            return None
    return None

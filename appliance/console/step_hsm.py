"""Step 2: load the HSM profile, log in with the PIN typed unseen, show the HSM and its KSKs.

A configuration found on a stick is never taken silently: it must keep to what a stick may name
(appliance.hsm.stick_profile), and the operators see its name, size, SHA-256 and PGP words (to
compare with the configuration approved for the ceremony) and type 'yes' before it is used.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import dnssec
from appliance.ceremonylog import quoted
from appliance.console import hsm_lost, preflight, sticks
from appliance.console.flow import Ceremony, Step
from appliance.console.step_verbal import hash_screen
from appliance.digest import Fingerprint
from appliance.errors import EXIT_HSM, EXIT_USAGE, CeremonyError, HsmError, UsageError
from appliance.text import shown

# The HSM and signing code (python-pkcs11 among it) loads when this step runs, not with the console:
# the first screen must come up fast.
if TYPE_CHECKING:
    from appliance.hsm.bounded import BoundedHsm
    from appliance.signing.config import SigningConfig

STICK_CONFIG = "ceremony.toml"
STICK_CONFIG_MAX = 64 * 1024


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ui.show(Step.HSM.heading, ["Activate the HSM.", ""])
    if ceremony.config is None:  # none named and none on the image: the operators bring it
        ceremony.config = await _configuration(ceremony)
        if ceremony.config is None:
            ceremony.fail(EXIT_USAGE, "no usable configuration")
            return await _ends(ceremony, ["No configuration: the ceremony cannot continue."])
    if await activate(ceremony):
        await ui.ask("hsm.seen", "Press Enter to continue to the request:")
        return Step.REQUEST
    if ceremony.hsm_lost:
        if not await hsm_lost.reconnect_or_shutdown(ceremony, "hsm.lost"):
            return Step.SHUTDOWN
        await ui.ask("hsm.seen", "Press Enter to continue to the request:")
        return Step.REQUEST
    return await _ends(ceremony, ["The HSM is not activated: nothing can be signed."])


async def activate(ceremony: Ceremony) -> bool:
    """Logs in (the PIN typed), reads the keys and shows the HSM, its keys and the configured KSKs;
    False when the login was given up or failed (said on the screen and in the log)."""
    ui = ceremony.ui
    profile = ceremony.config.hsm
    if profile.pin_source_note:
        ui.add([f"NOTE: {profile.pin_source_note}."])
    hsm = await _log_in(ceremony, profile)
    if hsm is None:
        ceremony.hsm_state = "not logged in"
        return False
    ceremony.hsm = hsm
    ceremony.hsm_identity = hsm.identity
    ceremony.hsm_state = f"logged in, {hsm.identity.token_label}"
    try:
        keys = await ui.work("Reading the keys on the token ...", hsm.keys)
    except HsmError as exc:
        if hsm_lost.is_lost(ceremony, exc):
            await hsm_lost.end_session(ceremony, exc, "while the keys on the token were read",
                                       ["Nothing was signed or written."])
            return False
        ceremony.hsm_state = "failed, see the screen"
        ceremony.fail(EXIT_HSM, f"HSM error: {shown(str(exc), limit=None)}")
        ui.add([f"HSM ERROR: {shown(str(exc), limit=None)}"])
        return False
    ui.show(Step.HSM.heading, ["HSM activated.", ""] + hsm.identity.lines() + [""] + key_table(keys)
            + [""] + definitions(ceremony.config))
    return True


async def _ends(ceremony: Ceremony, why: list[str]) -> Step:
    """The reason stays on screen until the operators type 'end': a bare Enter never ends a ceremony."""
    ceremony.ui.add(why + ["The ceremony cannot go on. The log is written to a stick next."])
    await ceremony.ui.ask_word("hsm.end", "Type 'end' to end the ceremony:", ("end",))
    return Step.SHUTDOWN


def key_table(keys) -> list[str]:
    """The private keys on the token, with the key tag each has as a KSK (flags 257), and whether
    the private key is kept in the token ('kept'), can be read out of it ('EXPOSED': refused for
    signing), or was once outside its protection ('once-out': imported); the attributes behind the
    last two are listed under the table."""
    private = [k for k in keys if k.object_class == "private"]
    if not private:
        return ["No private keys on this token."]
    rows = [f"Keys on the token ({len(private)}):",
            f"  {'Label':<16} {'Algorithm':<16} {'Size':>5}  {'KSK tag':>7}  {'Revoked tag':>11}  Private"]
    for key in private:
        tag = revoked = "-"
        if key.public_key is not None and key.algorithm is not None:
            tag = str(key.dnskey().key_tag)
            revoked = str(key.dnskey(flags=dnssec.FLAG_ZONE | dnssec.FLAG_SEP | dnssec.FLAG_REVOKE).key_tag)
        algorithm = dnssec.algorithm_name(key.algorithm) if key.algorithm else key.key_type
        size = key.curve or str(key.size or "-")
        rows.append(f"  {shown(key.label, limit=16):<16} {algorithm[:16]:<16} {size:>5}  {tag:>7}  {revoked:>11}"
                    f"  {key.protection}")
    for key in private:
        if key.exposure() or key.history():
            rows.append(f"  {shown(key.label, limit=16)}: {', '.join(key.exposure() + key.history())}")
    return rows


def definitions(config) -> list[str]:
    """The KSKs the configuration allows, each checked against the HSM's key before signing."""
    rows = [f"KSKs in the configuration {shown(config.source.name)} (schema {shown(config.default_schema)} unless told):"]
    for name, key in config.keys.items():
        until = f" until {key.valid_until:%Y-%m-%d}" if key.valid_until else ""
        rows.append(f"  {shown(name)}: label '{shown(key.label)}', tag {key.key_tag}, "
                    f"{dnssec.algorithm_name(key.algorithm)} {key.size}, valid from {key.valid_from:%Y-%m-%d}{until}")
    return rows


async def _configuration(ceremony: Ceremony) -> SigningConfig | None:
    """The configuration from a stick, checked against what a stick may name and as `ceremony run`
    checks its own before the first question, then confirmed by its hash; None when the operators
    cancel."""
    from appliance.hsm.stick_profile import stick_profile_faults

    ui = ceremony.ui
    while True:
        stick = await sticks.choose_stick(ceremony, "hsm.config", f"with the configuration {STICK_CONFIG}")
        if stick is None:
            return None
        try:
            config, data = await ui.work(f"Reading {STICK_CONFIG} from {stick.describe()} ...",
                                         _from_stick, ceremony.media, stick)
            faults = stick_profile_faults(config.hsm)
            if faults:
                raise UsageError(f"{STICK_CONFIG} on {stick.describe()} names what a configuration from a "
                                 "stick may not: " + "; ".join(faults))
            policy = preflight.usable(config, ceremony.settings)
        except CeremonyError as exc:  # unreadable (a MediaError), unusable, or beyond a stick's reach
            ui.add([f"The configuration cannot be used: {shown(str(exc), limit=None)}"])
        else:
            text = data.decode("utf-8", "replace")
            ceremony.log.note(f"Configuration {STICK_CONFIG} read from {stick.describe()}: {len(data)} bytes, "
                              f"SHA-256 {Fingerprint.of(data).hex}", quoted(text))
            if await _confirmed(ceremony, stick, config, data):
                ceremony.policy = policy
                return config
            ui.add([f"{STICK_CONFIG} from {stick.describe()} is NOT used."])
        how, answer = await ui.ask_or_wait(
            "hsm.config.other", f"Insert a stick with a usable {STICK_CONFIG}, or Enter to read again "
                                "(or 'cancel'):", ceremony.watch.change(ceremony.media, ceremony.media.sticks()))
        if how == "typed" and answer.lower() == sticks.CANCEL:
            return None


async def _confirmed(ceremony: Ceremony, stick, config: SigningConfig, data: bytes) -> bool:
    """The configuration's name, size, hash and words, what it names, and the operators' 'yes'."""
    ui = ceremony.ui
    profile = config.hsm
    ui.show(Step.HSM.heading, hash_screen(Fingerprint.of(data), f"the configuration ({len(data)} bytes)",
                                          STICK_CONFIG) + [
        f"On {stick.describe()}. Compare with the configuration approved for this ceremony.",
        f"It names the module {shown(profile.module)}, {shown(profile.token.describe())}",
        "and the KSK labels " + ", ".join(f"'{shown(key.label)}'" for key in config.keys.values()) + ".",
    ])
    answer = await ui.ask("hsm.config.confirm", "Use this configuration? Type 'yes' (anything else: not used):")
    return answer.lower() == "yes"


def _from_stick(media, stick) -> tuple[SigningConfig, bytes]:
    """The configuration on a stick, and its bytes (runs in the worker)."""
    from appliance.signing.config import load_signing_config

    data = media.read_file(stick, STICK_CONFIG, STICK_CONFIG_MAX)
    # Read from a private copy that is gone once loaded: nothing of the session may stay on the
    # laptop, and relative paths in the file then point nowhere, on purpose.
    with tempfile.TemporaryDirectory(prefix="ceremony-config-") as folder:
        copy = Path(folder) / STICK_CONFIG
        copy.write_bytes(data)
        return load_signing_config(copy), data


async def _log_in(ceremony: Ceremony, profile) -> BoundedHsm | None:
    from appliance.hsm import HsmPinIncorrect, HsmPinLocked
    from appliance.hsm.bounded import BoundedHsm

    ui = ceremony.ui
    loop = asyncio.get_running_loop()

    typing = [0.0]  # seconds spent waiting for the PIN: not the HSM's time

    async def ask_pin(text: str) -> str:
        ui.add([text.rstrip().rstrip(":")])
        while True:
            pin = await ui.ask("hsm.pin", "PIN (typing is not shown):", hidden=True)
            if pin:
                return pin
            # An empty login may count as a failed attempt on the token, or succeed on a token
            # without a PIN: neither is what the operator meant.
            ui.add(["Nothing was typed; an empty PIN is never sent to the token. Type the PIN."])

    def pin_prompt(text: str) -> str:
        # Called by the HSM layer in the worker thread: the question itself runs on the loop.
        asked = time.monotonic()
        try:
            return asyncio.run_coroutine_threadsafe(ask_pin(text), loop).result()
        finally:
            typing[0] += time.monotonic() - asked

    for attempt in range(1, ceremony.settings.hsm_attempts + 1):
        hsm = BoundedHsm(profile, pin_prompt)  # every answer within the profile's limit
        ceremony.hsm_state = "opening"
        typing[0] = 0.0
        try:
            await ui.work(f"Opening {shown(profile.token.describe())} with {shown(profile.module)} ...", hsm.open,
                          waited=lambda: typing[0])
            return hsm
        except HsmPinLocked as exc:
            ui.add([f"PIN LOCKED: {shown(str(exc), limit=None)}"])
            ceremony.log.error(shown(str(exc), limit=None))
            ceremony.fail(EXIT_HSM, f"PIN locked: {shown(str(exc), limit=None)}")
            return None
        except HsmPinIncorrect as exc:
            ceremony.log.error(shown(str(exc), limit=None))
            left = ceremony.settings.hsm_attempts - attempt
            ui.add([f"WRONG PIN: {shown(str(exc), limit=None)}.", f"{left} more attempt(s) allowed in this ceremony."])
            failure = (EXIT_HSM, f"wrong PIN, {attempt} time(s)")
        except HsmError as exc:
            ceremony.log.error(shown(str(exc), limit=None))
            ui.add([f"HSM ERROR: {shown(str(exc), limit=None)}"])
            failure = (EXIT_HSM, f"HSM error: {shown(str(exc), limit=None)}")
        except CeremonyError as exc:
            ceremony.log.error(shown(str(exc), limit=None))
            ui.add([f"CONFIGURATION ERROR: {shown(str(exc), limit=None)}"])
            ceremony.fail(exc.exit_code, f"configuration error: {shown(str(exc), limit=None)}")
            return None
        ceremony.hsm_state = "not logged in"
        if attempt == ceremony.settings.hsm_attempts:
            ceremony.fail(*failure)
            return None
        if not await _try_again(ceremony):
            ceremony.fail(*failure)
            return None
    return None


async def _try_again(ceremony: Ceremony) -> bool:
    """After a wrong PIN: 'yes' or 'no'. An operator may type the PIN here by habit, so what is
    neither is not drawn as it is typed, not logged, not repeated, and asked again."""
    while True:
        answer = await ceremony.ui.ask("hsm.retry", "Try the PIN again? Type 'yes' or 'no':", choices=("yes", "no"))
        if answer.lower() in ("yes", "no"):
            return answer.lower() == "yes"
        ceremony.ui.add(["That was neither 'yes' nor 'no' (it is not shown or logged)."])

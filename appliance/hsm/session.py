"""The HSM session: load the profile's PKCS#11 module, find its token, log in, close again.

`Hsm` is the open, logged-in session the rest of the appliance holds; its `keys`, `find_key`,
`sign` and `generate_key` are the functions of `appliance.hsm.keys`, `.mechanisms` and `.generation`.
Every PKCS#11 failure leaves this package as an `HsmError` subclass (`appliance.hsm.errors`).

Safe defaults: the PIN is prompted for (a file or environment variable is a test/demo option
the caller must log), sessions are read-only unless key generation asks for read-write, tokens
are found by label (never by slot number) and keys by CKA_LABEL and class, and any ambiguity is
an error rather than a guess.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pkcs11
from pkcs11 import TokenFlag
from pkcs11 import exceptions as p11

from appliance.errors import HsmError, UsageError
from appliance.hsm.errors import HsmDeviceRemoved, HsmModuleError, HsmPinLocked
from appliance.hsm.failures import error_for
from appliance.hsm.generation import generate_key
from appliance.hsm.keys import HsmKey, find_key, list_keys
from appliance.hsm.mechanisms import sign
from appliance.hsm.profile import HsmProfile
from appliance.hsm.token import HsmIdentity, find_token, read_identity

if TYPE_CHECKING:
    from appliance.hsm.network_link import LinkUp

# A prompt callback: given the text to show, returns the PIN the operator typed.
PinPrompt = Callable[[str], str]


def _set_environment(values: Mapping[str, str]) -> dict[str, str | None]:
    """Set variables the module reads at C_Initialize; returns the caller's values to restore."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    return saved


def _restore_environment(saved: Mapping[str, str | None]) -> None:
    for name, old in saved.items():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


class Hsm:
    """An open, logged-in session on the profile's token. Use as a context manager.

    One Hsm at a time per process: close() finalises the module, so that the next open reads
    its configuration (e.g. SOFTHSM2_CONF) afresh.
    """

    def __init__(self, profile: HsmProfile, pin_prompt: PinPrompt | None = None, writable: bool = False):
        self.profile = profile
        self._pin_prompt = pin_prompt
        self.writable = writable
        self._lib = None
        self._token = None
        self._session = None
        self.mechanisms: frozenset = frozenset()  # the pkcs11.Mechanisms the token's slot offers
        self._saved_environment: dict[str, str | None] = {}
        self._link: LinkUp | None = None
        self.identity: HsmIdentity | None = None

    # --- session lifecycle --------------------------------------------------------------------

    def __enter__(self) -> "Hsm":
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def token_name(self) -> str:
        """The token as the profile names it, for messages."""
        return self.profile.token.describe()

    def open(self) -> None:
        missing = [n for n in self.profile.inherit_environment if not os.environ.get(n)]
        if missing:
            raise HsmModuleError(f"the HSM profile needs environment variable(s) {', '.join(missing)} "
                                 "set (e.g. SOFTHSM2_CONF pointing at the token directory's configuration)")
        self._saved_environment = _set_environment(self.profile.environment)
        try:
            if self.profile.network is not None:
                # Before the module loads: a network HSM's library may connect when initialised.
                from appliance.hsm.network_link import LinkUp

                self._link = LinkUp(self.profile.network)
                self._link.bring_up()
            self._load_module()
            self._token = find_token(self._lib, self.profile.token)
            self.identity, self.mechanisms = read_identity(self._lib, self._token, self.profile.module,
                                                           self.token_name)
            if self._link is not None:
                self.identity = replace(self.identity, network_link=self._link.describe())
            self._login()
        except BaseException:
            self.close()
            raise

    def _load_module(self) -> None:
        module = self.profile.module
        if not Path(module).is_file():
            raise HsmModuleError(f"PKCS#11 module {module} does not exist")
        try:
            self._lib = pkcs11.lib(module)
        except p11.PKCS11Error as exc:
            raise HsmModuleError(f"cannot load or initialise PKCS#11 module {module}: "
                                 f"{type(exc).__name__} {exc} (check its configuration, e.g. SOFTHSM2_CONF)") from None

    def _read_pin(self) -> str:
        profile = self.profile
        if profile.pin_file is not None:
            try:
                return profile.pin_file.read_text("utf-8").rstrip("\r\n")
            except OSError as exc:
                raise UsageError(f"cannot read PIN file {profile.pin_file}: {exc.strerror}") from None
        if profile.pin_env is not None:
            pin = os.environ.get(profile.pin_env)
            if pin is None:
                raise UsageError(f"environment variable {profile.pin_env} (the HSM PIN) is not set")
            return pin
        if self._pin_prompt is None:
            raise UsageError("the HSM profile prompts for the PIN but no prompt is available")
        warning = " (FINAL TRY before the PIN locks)" if self._token.flags & TokenFlag.USER_PIN_FINAL_TRY else ""
        return self._pin_prompt(f"User PIN for token {self._token.label!r} "
                                f"(serial {self.identity.token_serial}){warning}: ")

    def _login(self) -> None:
        flags = self._token.flags
        if flags & TokenFlag.USER_PIN_LOCKED:
            raise HsmPinLocked(f"the user PIN of {self.token_name} is locked; the security officer must unlock it")
        if not flags & TokenFlag.USER_PIN_INITIALIZED:
            raise HsmError(f"{self.token_name} has no user PIN set")
        pin = self._read_pin()
        if not pin:
            # Sent, an empty PIN costs one of the token's tries, or logs in on a token without one.
            raise UsageError(f"an empty PIN is never sent to {self.token_name}: nothing was tried")
        try:
            self._session = self._token.open(rw=self.writable, user_pin=pin)
        except p11.PKCS11Error as exc:
            raise error_for(exc, "logging in", self.token_name) from None

    def close(self) -> None:
        """Log out, close the session and finalise the module; safe to call twice."""
        session, self._session = self._session, None
        lib, self._lib = self._lib, None
        try:
            if session is not None:
                session.close()
        except p11.PKCS11Error:
            pass  # the device may be gone; there is nothing left to release on it
        finally:
            try:
                if lib is not None:
                    lib.finalize()
            except p11.PKCS11Error:
                pass
            _restore_environment(self._saved_environment)
            self._saved_environment = {}
            link, self._link = self._link, None
            if link is not None:
                link.take_down()

    def require_session(self):
        """The open `pkcs11.Session`; HsmError if there is none."""
        if self._session is None:
            raise HsmError("the HSM session is not open")
        return self._session

    def failure(self, exc: p11.PKCS11Error, doing: str) -> HsmError:
        """Our error for a failure inside a session, checking first whether the token vanished."""
        if not self._token_present():
            return HsmDeviceRemoved(f"{self.token_name} went away while {doing} "
                                    f"({type(exc).__name__}); reconnect the HSM and start again")
        return error_for(exc, doing, self.token_name)

    def _token_present(self) -> bool:
        # Removal shows up as assorted errors (SoftHSM: an invalid handle); asking again is the test.
        try:
            return self._token.slot.get_token().serial == self._token.serial
        except p11.PKCS11Error:
            return False

    # --- keys, signing, generation: see appliance.hsm.keys, .mechanisms, .generation ------------

    def keys(self) -> list[HsmKey]:
        """Every private and public key on the token, private keys first, each sorted by label."""
        return list_keys(self)

    def find_key(self, label: str) -> HsmKey:
        """The private key with this CKA_LABEL; none or several is an error."""
        return find_key(self, label)

    def sign(self, key: str | HsmKey, data: bytes, algorithm: int) -> bytes:
        """The DNSSEC signature field for `data` (RRSIG signed data) by a private key on the token."""
        return sign(self, key, data, algorithm)

    def generate_key(self, label: str, algorithm: int, avoid_key_tags: frozenset[int] = frozenset(),
                     attempts: int = 10) -> HsmKey:
        """A new KSK pair on the token, sensitive and never extractable (see generation.generate_key)."""
        return generate_key(self, label, algorithm, avoid_key_tags, attempts)

"""PKCS#11 exceptions (python-pkcs11) turned into our `HsmError`s, with a message an operator can act on."""

from __future__ import annotations

from pkcs11 import exceptions as p11

from appliance.errors import HsmError
from appliance.hsm.errors import (HsmDeviceRemoved, HsmKeyUnusable, HsmPinIncorrect, HsmPinLocked, HsmTokenAbsent,
                                  HsmUnsupportedMechanism)


def error_for(exc: p11.PKCS11Error, doing: str, token: str) -> HsmError:
    """Our error for a PKCS#11 failure; `doing` says what we were doing, for the message."""
    name = type(exc).__name__
    if isinstance(exc, (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange)):
        return HsmPinIncorrect(f"wrong PIN for {token} ({name}); nothing was signed")
    if isinstance(exc, p11.PinLocked):
        return HsmPinLocked(f"the user PIN of {token} is locked; the security officer must unlock it")
    if isinstance(exc, (p11.DeviceRemoved, p11.TokenNotPresent, p11.SessionClosed, p11.SessionHandleInvalid)):
        return HsmDeviceRemoved(f"{token} was removed or its session closed while {doing} ({name}); "
                                "nothing was written: reconnect the HSM and start again")
    if isinstance(exc, (p11.MechanismInvalid, p11.MechanismParamInvalid, p11.FunctionNotSupported)):
        return HsmUnsupportedMechanism(f"{token} does not support the mechanism for {doing} ({name})")
    if isinstance(exc, p11.KeyTypeInconsistent):
        return HsmKeyUnusable(f"the key cannot be used for {doing} on {token} ({name})")
    if isinstance(exc, p11.NoSuchToken):
        return HsmTokenAbsent(f"{token} is not present")
    return HsmError(f"PKCS#11 error while {doing} on {token}: {name} {exc}".rstrip())

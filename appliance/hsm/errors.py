"""The HSM's errors, one per case the operator must tell apart; all are `HsmError`s (exit code 3).

Free of PKCS#11: the console and the commands catch these without loading python-pkcs11.
"""

from __future__ import annotations

from appliance.errors import HsmError

__all__ = ["HsmError", "HsmModuleError", "HsmTokenAbsent", "HsmTokenAmbiguous", "HsmPinIncorrect", "HsmPinLocked",
           "HsmKeyMissing", "HsmKeyAmbiguous", "HsmKeyUnusable", "HsmUnsupportedMechanism", "HsmDeviceRemoved"]


class HsmModuleError(HsmError):
    """The PKCS#11 module could not be loaded or initialised."""


class HsmTokenAbsent(HsmError):
    """No initialised token matches the profile."""


class HsmTokenAmbiguous(HsmError):
    """More than one token matches the profile."""


class HsmPinIncorrect(HsmError):
    """The token refused the PIN."""


class HsmPinLocked(HsmError):
    """The user PIN is locked after too many wrong attempts."""


class HsmKeyMissing(HsmError):
    """No key with the label (and class) asked for."""


class HsmKeyAmbiguous(HsmError):
    """More than one key with the label asked for."""


class HsmKeyUnusable(HsmError):
    """The key exists but cannot make this kind of signature (wrong type or curve)."""


class HsmUnsupportedMechanism(HsmError):
    """The token does not offer the mechanism a signature needs."""


class HsmDeviceRemoved(HsmError):
    """The token went away while a session was open."""

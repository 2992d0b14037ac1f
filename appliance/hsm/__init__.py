"""The HSM over PKCS#11: profiles, the network link, token lookup, login, keys, signing, generation.

The only package that imports `pkcs11`; nothing outside it sees PKCS#11 types. Its public names
are importable from here (`from appliance.hsm import Hsm`), but each is loaded on first use, so
that code needing only a profile or an error class does not pay for loading python-pkcs11.
"""

from __future__ import annotations

import importlib

# Public name -> the module (in this package) that defines it.
_EXPORTS = {
    **dict.fromkeys(("Hsm", "HsmIdentity", "HsmKey", "PinPrompt", "error_for", "HsmError", "HsmModuleError",
                     "HsmTokenAbsent", "HsmTokenAmbiguous", "HsmPinIncorrect", "HsmPinLocked", "HsmKeyMissing",
                     "HsmKeyAmbiguous", "HsmKeyUnusable", "HsmUnsupportedMechanism", "HsmDeviceRemoved"),
                    "session"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value

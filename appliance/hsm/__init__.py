"""The HSM over PKCS#11: profiles, the network link, token lookup, login, keys, signing, generation.

    profile        HSM profiles from TOML: module, token (label or RFC 7512 URI), PIN source, environment
    network_link   a network HSM's one static link ([hsm.network])
    stick_profile  what a profile from a stick may name (image modules, allowed variables, no PIN source)
    errors         one HsmError subclass per case the operator must tell apart (no PKCS#11 needed)
    failures       PKCS#11 exceptions -> those errors
    token          finding the profile's token, and its identity
    session        Hsm: load the module, find the token, log in, close; the object callers hold
    keys           key objects and their attributes: HsmKey, listing, finding by label
    mechanisms     signing: the PKCS#11 mechanism for each DNSSEC algorithm
    generation     a new KSK pair that never leaves the token

The only package that imports `pkcs11`; nothing outside it sees PKCS#11 types. Its public names
are importable from here (`from appliance.hsm import Hsm`), each loaded on first use, so that
code needing only a profile or an error class does not pay for loading python-pkcs11.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys

from appliance.hsm.errors import *  # noqa: F403  (PKCS#11-free, cheap)
from appliance.hsm.errors import __all__ as _ERRORS

# Public name -> the module (in this package) that defines it, imported when first asked for.
_LAZY = {"Hsm": "session", "PinPrompt": "session", "HsmIdentity": "token", "HsmKey": "keys", "error_for": "failures"}

__all__ = sorted([*_ERRORS, *_LAZY])


_PKCS11_HELPERS = frozenset(f"pkcs11.util.{name}" for name in ("dh", "dsa", "ec", "rsa", "x509"))


class _Pkcs11HelpersOnFirstUse:
    """python-pkcs11 0.10's package init imports its DH, DSA, EC, RSA and X.509 helpers, and with
    them asn1crypto (and socket, decimal, fractions): about 45 ms of every signing run, for code we
    never call, and no submodule of pkcs11 can be imported without that init. This import-system
    finder (first on sys.meta_path) hands out those five modules through importlib's LazyLoader:
    they are bound where the init expects them and run only when one of their names is first used."""

    @staticmethod
    def find_spec(name: str, path=None, target=None):
        if name not in _PKCS11_HELPERS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


if _Pkcs11HelpersOnFirstUse not in sys.meta_path:
    sys.meta_path.insert(0, _Pkcs11HelpersOnFirstUse)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value

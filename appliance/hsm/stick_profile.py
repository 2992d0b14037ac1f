"""What an HSM profile may name when its configuration came from a stick, not from the image or the
command line.

Whoever wrote the stick chose every value in it. Loading a PKCS#11 module runs its code, the
module's environment variables are set for the whole console process (PATH or LD_PRELOAD would
reach every program it starts), and a PIN file is read and sent to the token. So a configuration
from a stick may name only:
- a module the image itself ships (`IMAGE_MODULES`: SoftHSM, OpenSC, and p11-kit's client for a
  token reached through a transport the image provides);
- environment variables a module documents for its own configuration (`STICK_ENVIRONMENT`), some
  only with the value the image uses;
- no `pin_file` and no `pin_env`: on the appliance the PIN is typed by an operator.
A module a vendor ships is added to `IMAGE_MODULES` (and its variables here) when it is added to
the image; a configuration given with --config or carried by the image is not limited.
"""

from __future__ import annotations

from appliance.hsm.profile import HsmProfile
from appliance.text import shown

# The PKCS#11 modules installed by live-build/config/package-lists (softhsm2, opensc-pkcs11,
# p11-kit), at the paths Debian puts them.
IMAGE_MODULES = frozenset({
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
})

# p11-kit's client runs the command after "|": only the image's own transport script.
IMAGE_TRANSPORT = "|/usr/local/libexec/ceremony/pkcs11-over-virtio-serial"

# Variable -> the values allowed (None: any value). SOFTHSM2_CONF and OPENSC_CONF name the
# module's own configuration file; P11_KIT_SERVER_ADDRESS is a command line, so it is pinned.
STICK_ENVIRONMENT: dict[str, frozenset[str] | None] = {
    "SOFTHSM2_CONF": None,
    "OPENSC_CONF": None,
    "P11_KIT_SERVER_ADDRESS": frozenset({IMAGE_TRANSPORT}),
}


def stick_profile_faults(profile: HsmProfile) -> list[str]:
    """Why this profile may not be used when it came from a stick: one plain sentence per fault,
    with the stick's values shown escaped; an empty list when it may."""
    faults = []
    if profile.module not in IMAGE_MODULES:
        faults.append(f"[hsm] module '{shown(profile.module)}' is not one of the image's PKCS#11 modules "
                      f"({', '.join(sorted(IMAGE_MODULES))})")
    if profile.pin_file is not None:
        faults.append("[hsm] pin_file is not accepted from a stick: the PIN is typed at the console")
    if profile.pin_env is not None:
        faults.append("[hsm] pin_env is not accepted from a stick: the PIN is typed at the console")
    for name, value in profile.environment.items():
        allowed = STICK_ENVIRONMENT.get(name, frozenset())
        if allowed is not None and value not in allowed:
            why = "only with the image's own value" if name in STICK_ENVIRONMENT else \
                f"only {', '.join(sorted(STICK_ENVIRONMENT))} may be set"
            faults.append(f"[hsm.environment] {shown(name)} = '{shown(value)}' is not accepted from a stick ({why})")
    for name in profile.inherit_environment:
        if name not in STICK_ENVIRONMENT:
            faults.append(f"[hsm] inherit_environment {shown(name)} is not accepted from a stick "
                          f"(only {', '.join(sorted(STICK_ENVIRONMENT))})")
    return faults

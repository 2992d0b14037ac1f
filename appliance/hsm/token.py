"""Token lookup and identity: the one initialised token a profile names, and what it says it is.

Tokens are found by label (and manufacturer, model, serial if the profile gives them), never by
slot number; none or several matching is an error rather than a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from pkcs11 import TokenFlag
from pkcs11 import exceptions as p11

from appliance.hsm.errors import HsmTokenAbsent, HsmTokenAmbiguous
from appliance.hsm.failures import error_for
from appliance.hsm.profile import TokenSelector


@dataclass(frozen=True, eq=False, repr=False)  # shown by lines(), never compared: as policy.context.RequestContext
class HsmIdentity:
    """Printed and logged before anything is signed, so the operators know which device signs."""

    module: str
    library: str
    library_manufacturer: str
    library_version: str
    slot_id: int
    slot_description: str
    token_label: str
    token_manufacturer: str
    token_model: str
    token_serial: str
    network_link: str = ""  # what the profile's [hsm.network] brought up, if anything

    def lines(self) -> list[str]:
        return [
            f"PKCS#11 module: {self.module}",
            f"Library:        {self.library} ({self.library_manufacturer}, version {self.library_version})",
            f"Slot:           {self.slot_id} ({self.slot_description})",
            f"Token label:    {self.token_label}",
            f"Manufacturer:   {self.token_manufacturer}",
            f"Model:          {self.token_model}",
            f"Serial:         {self.token_serial}",
        ] + ([f"Network link:   {self.network_link}"] if self.network_link else [])


def find_token(lib, wanted: TokenSelector):
    """The one initialised `pkcs11.Token` of the loaded module `lib` that `wanted` matches.

    Raises HsmTokenAbsent (listing the labels present) or HsmTokenAmbiguous (asking for a serial).
    """
    seen, matches = [], []
    try:
        for slot in lib.get_slots(token_present=True):
            token = slot.get_token()
            if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                continue  # SoftHSM always offers one empty slot; it is not a candidate
            seen.append(token.label)
            if (token.label == wanted.label
                    and wanted.manufacturer in (None, token.manufacturer_id)
                    and wanted.model in (None, token.model)
                    and wanted.serial in (None, token.serial.decode("ascii", "replace"))):
                matches.append(token)
    except p11.PKCS11Error as exc:
        raise error_for(exc, "listing tokens", wanted.describe()) from None
    if not matches:
        present = ", ".join(repr(label) for label in seen) or "none"
        raise HsmTokenAbsent(f"{wanted.describe()} is not present (initialised tokens present: {present}); "
                             "connect the HSM or check the profile")
    if len(matches) > 1:
        raise HsmTokenAmbiguous(f"{len(matches)} tokens match {wanted.describe()}; "
                                "add its serial (pkcs11:token=...;serial=...) to the profile")
    return matches[0]


def read_identity(lib, token, module: str, token_name: str) -> tuple[HsmIdentity, frozenset]:
    """The token's identity and the set of `pkcs11.Mechanism`s its slot offers; `token_name` is for messages."""
    slot = token.slot
    try:
        mechanisms = frozenset(slot.get_mechanisms())
    except p11.PKCS11Error as exc:
        raise error_for(exc, "reading the mechanism list", token_name) from None
    major, minor = lib.library_version
    return HsmIdentity(
        module=module,
        library=lib.library_description,
        library_manufacturer=lib.manufacturer_id,
        library_version=f"{major}.{minor}",
        slot_id=slot.slot_id,
        slot_description=slot.slot_description,
        token_label=token.label,
        token_manufacturer=token.manufacturer_id,
        token_model=token.model,
        token_serial=token.serial.decode("ascii", "replace"),
    ), mechanisms

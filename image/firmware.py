"""The firmwares the DVD is booted with under QEMU, and the QEMU arguments each one needs.

    bios             SeaBIOS, QEMU's built-in default: isolinux boots
    uefi             OVMF without keys, Secure Boot off: shim (or GRUB) runs unchecked
    uefi-secureboot  OVMF with Microsoft's keys enrolled and Secure Boot on: the firmware checks
                     shim against Microsoft's signature, shim checks GRUB and GRUB the kernel
                     against Debian's key, and the kernel locks itself down

Secure Boot is only meaningful when the guest cannot rewrite the variable store behind the
firmware's back: the Secure Boot build of OVMF keeps its variables in system management mode and
refuses to start without it, so that variant needs SMM on the machine (`smm=on`) and the flash
marked writable from SMM only (`cfi.pflash01` `secure=on`), as the OVMF package's README.Debian and
QEMU's firmware descriptor (40-edk2-x86_64-secure-enrolled.json) say.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

OVMF_DIR = Path("/usr/share/OVMF")


@dataclass(frozen=True)
class Firmware:
    name: str
    description: str
    code: Path | None = None           # the read-only flash image; None: SeaBIOS
    vars_template: Path | None = None  # copied per VM: the guest writes its variables
    secure_boot: bool = False

    @property
    def machine(self) -> str:
        return "q35,smm=on" if self.secure_boot else "q35"

    def qemu_args(self, workdir: Path) -> list[str]:
        """The arguments that put this firmware in the VM; copies the variable store into workdir
        (each VM gets its own, the template stays untouched)."""
        if self.code is None:
            return []
        variables = workdir / "OVMF_VARS.fd"
        shutil.copy(self.vars_template, variables)
        args = []
        if self.secure_boot:
            args += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
        return args + ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={self.code}",
                       "-drive", f"if=pflash,format=raw,unit=1,file={variables}"]


FIRMWARES = {
    "bios": Firmware("bios", "SeaBIOS"),
    "uefi": Firmware("uefi", "OVMF, Secure Boot off",
                     OVMF_DIR / "OVMF_CODE_4M.fd", OVMF_DIR / "OVMF_VARS_4M.fd"),
    "uefi-secureboot": Firmware("uefi-secureboot", "OVMF, Microsoft keys, Secure Boot on",
                                OVMF_DIR / "OVMF_CODE_4M.secboot.fd", OVMF_DIR / "OVMF_VARS_4M.ms.fd",
                                secure_boot=True),
}


def firmware(name: str) -> Firmware:
    try:
        return FIRMWARES[name]
    except KeyError:
        raise ValueError(f"firmware must be one of {', '.join(FIRMWARES)}, not {name!r}") from None

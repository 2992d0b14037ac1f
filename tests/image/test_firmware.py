"""The firmware choice of the QEMU harness (image/firmware.py, image/qemu.py) and the boot test's
per-firmware checks (image/boot_test.py), without starting QEMU."""
from pathlib import Path

import pytest

from image import boot_stages, boot_test
from image.firmware import FIRMWARES, Firmware
from image.qemu import VirtualMachine, VmError


def _option_values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == option]


@pytest.fixture
def fake_ovmf(tmp_path, monkeypatch):
    """Stand-in flash images, so the tests run on machines without the ovmf package."""
    ovmf = tmp_path / "ovmf"
    ovmf.mkdir()
    for name, contents in (("OVMF_CODE_4M.fd", b"code"), ("OVMF_VARS_4M.fd", b"empty vars"),
                           ("OVMF_CODE_4M.secboot.fd", b"smm code"), ("OVMF_VARS_4M.ms.fd", b"ms keys")):
        (ovmf / name).write_bytes(contents)
    fakes = {name: Firmware(fw.name, fw.description,
                            fw.code and ovmf / fw.code.name,
                            fw.vars_template and ovmf / fw.vars_template.name, fw.secure_boot)
             for name, fw in FIRMWARES.items()}
    monkeypatch.setattr("image.firmware.FIRMWARES", fakes)
    return ovmf


def _command_line(tmp_path: Path, firmware: str) -> list[str]:
    workdir = tmp_path / f"vm-{firmware}"
    workdir.mkdir()
    return VirtualMachine(tmp_path / "ceremony.iso", workdir, firmware=firmware).command_line()


def test_bios_is_qemus_default_firmware(tmp_path, fake_ovmf):
    args = _command_line(tmp_path, "bios")
    assert _option_values(args, "-machine") == ["q35"]
    assert not any(value.startswith("if=pflash") for value in _option_values(args, "-drive"))
    assert "-global" not in args


def test_uefi_is_ovmf_without_keys_and_without_smm(tmp_path, fake_ovmf):
    args = _command_line(tmp_path, "uefi")
    assert _option_values(args, "-machine") == ["q35"]
    assert "-global" not in args
    variables = tmp_path / "vm-uefi" / "OVMF_VARS.fd"
    assert [d for d in _option_values(args, "-drive") if d.startswith("if=pflash")] == [
        f"if=pflash,format=raw,unit=0,readonly=on,file={fake_ovmf / 'OVMF_CODE_4M.fd'}",
        f"if=pflash,format=raw,unit=1,file={variables}"]
    assert variables.read_bytes() == b"empty vars"


def test_uefi_secureboot_is_the_smm_build_with_microsofts_keys(tmp_path, fake_ovmf):
    args = _command_line(tmp_path, "uefi-secureboot")
    assert _option_values(args, "-machine") == ["q35,smm=on"]
    assert _option_values(args, "-global") == ["driver=cfi.pflash01,property=secure,value=on"]
    variables = tmp_path / "vm-uefi-secureboot" / "OVMF_VARS.fd"
    assert [d for d in _option_values(args, "-drive") if d.startswith("if=pflash")] == [
        f"if=pflash,format=raw,unit=0,readonly=on,file={fake_ovmf / 'OVMF_CODE_4M.secboot.fd'}",
        f"if=pflash,format=raw,unit=1,file={variables}"]
    # the guest writes its own copy of the enrolled keys; the template stays as shipped
    assert variables.read_bytes() == b"ms keys"
    variables.write_bytes(b"changed by the guest")
    assert (fake_ovmf / "OVMF_VARS_4M.ms.fd").read_bytes() == b"ms keys"


def test_the_real_firmware_table_names_debians_ovmf_files():
    assert FIRMWARES["uefi-secureboot"].code == Path("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd")
    assert FIRMWARES["uefi-secureboot"].vars_template == Path("/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
    assert FIRMWARES["uefi"].code == Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
    assert not FIRMWARES["uefi"].secure_boot and FIRMWARES["bios"].code is None


def test_an_unknown_firmware_is_refused_with_the_choices(tmp_path):
    with pytest.raises(VmError, match=r"bios, uefi, uefi-secureboot, not 'coreboot'"):
        VirtualMachine(tmp_path / "ceremony.iso", tmp_path, firmware="coreboot")


def _expected(firmware: str) -> dict[str, str]:
    return {check.command: check.expected for check in boot_test.firmware_checks(firmware)}


def test_secure_boot_run_demands_secure_boot_seen_three_ways_and_enforced():
    expected = _expected("uefi-secureboot")
    assert expected[boot_test.BOOTED_BY.command] == "uefi"
    assert expected[boot_test.SECURE_BOOT_VARIABLE.command] == "1"
    assert expected[boot_test.KERNEL_SAYS.command] == "Secure boot enabled"
    assert expected[boot_test.LOCKDOWN.command] == "integrity"
    assert expected[boot_test.UNSIGNED_MODULE.command] == "refused"


def test_plain_uefi_and_bios_runs_demand_secure_boot_off():
    uefi = _expected("uefi")
    assert uefi[boot_test.SECURE_BOOT_VARIABLE.command] == "0"
    assert uefi[boot_test.KERNEL_SAYS.command] == "Secure boot disabled"
    assert uefi[boot_test.LOCKDOWN.command] == "none"
    assert uefi[boot_test.UNSIGNED_MODULE.command] == "loaded"
    assert _expected("bios") == {boot_test.BOOTED_BY.command: "bios", boot_test.LOCKDOWN.command: "none",
                                 boot_test.UNSIGNED_MODULE.command: "loaded"}


def test_the_boot_test_runs_every_firmware_by_default(monkeypatch, tmp_path):
    booted = []

    def fake_boot(iso, firmware, medium, kvm, timeout, workdir, checks=True):
        booted.append(firmware)
        return [], {"first screen": 60.0}

    iso = tmp_path / "ceremony.iso"
    iso.write_bytes(b"")
    monkeypatch.setattr(boot_test, "boot", fake_boot)
    monkeypatch.setattr(boot_test, "STAGE_TIMES", tmp_path / "boot-stages.json")
    monkeypatch.setattr("sys.argv", ["boot_test", "--iso", str(iso)])
    assert boot_test.main() == 0
    assert booted == ["bios", "uefi", "uefi-secureboot"]


def test_extra_boots_only_measure_and_their_median_is_kept(monkeypatch, tmp_path):
    booted = []

    def fake_boot(iso, firmware, medium, kvm, timeout, workdir, checks=True):
        booted.append(checks)
        return [], {"first screen": 50.0 + 5 * len(booted)}

    iso = tmp_path / "ceremony.iso"
    iso.write_bytes(b"")
    monkeypatch.setattr(boot_test, "boot", fake_boot)
    monkeypatch.setattr(boot_test, "STAGE_TIMES", tmp_path / "boot-stages.json")
    monkeypatch.setattr("sys.argv", ["boot_test", "--iso", str(iso), "--firmware", "bios", "--boots", "3"])
    assert boot_test.main() == 0
    assert booted == [True, False, False]
    kept = boot_stages.load(tmp_path / "boot-stages.json")["bios/dvd"]
    assert kept["median"]["first screen"] == 60.0 and kept["load"]

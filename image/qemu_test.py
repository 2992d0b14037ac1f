"""`make qemu-test`: a whole ceremony inside the booted DVD under QEMU (TCG), in one boot.

The host makes what a ceremony starts with (image.scenario drives the console):
  - a SoftHSM token holding a fresh KSK, on the HOST: the guest reaches it only through PKCS#11,
    p11-kit's RPC over a virtio serial port (image/hsm_bridge.py);
  - a test-only configuration stick with ceremony.toml naming that transport and pinning the KSK;
  - a FAT stick with this quarter's request and last quarter's response (appliance.synth via
    `ceremony demo`'s preparation), and a second stick whose request has a tampered signature;
  - a blank-but-formatted NVMe disk standing for the laptop's internal drive, and a network card
    whose every sent frame is captured.
Then: boot, set the clock, log in, plug the request stick (QMP, xHCI), compare the hash and words
on the console with the host's, confirm, sign, write, pull; read the stick with mtools and check
the response (`ceremony verify-skr`, dnspython) and the log; the tampered stick is refused and
gets no response; shut the ceremony down; then measure amnesia (image/amnesia.py).

Each stage prints its time; a failed stage stops the test with its reason and the logs' place.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec

from appliance.printing.document import started_from_log
from image import amnesia, hotplug, print_stage, screen, sticks
from image.hsm_bridge import BridgeError, HsmBridge, guest_hsm_table
from image.host_checks import CheckFailed, check_log, ksk_rrset, verify_with_cli, verify_with_dnspython
from image.qemu import VirtualMachine, VmError
from image.scenario import Console, ScenarioFailed, run_in_guest

INTERNAL_DISK_MB = 64
AMNESIA_CONTROL = "/run/qemu-test-control"
# What the guest's PKCS#11 reaches on the host (the demo's token, see appliance/commands/demo.py).
HOST_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


class StageFailed(Exception):
    def __init__(self, stage: str, reason: str):
        super().__init__(f"stage '{stage}' failed: {reason}")
        self.stage, self.reason = stage, reason


# What a stage may raise that is a readable failure of that stage rather than a bug of the test.
EXPECTED_FAILURES = (VmError, ScenarioFailed, CheckFailed, sticks.StickError, hotplug.HotplugError, BridgeError)


@dataclass
class Stages:
    """Runs named stages, prints each one's time, turns an expected failure into StageFailed."""

    report: Callable[[str], None] = print
    times: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str):
        self.report(f"qemu-test: {name} ...")
        started = time.monotonic()
        try:
            yield
        except EXPECTED_FAILURES as error:
            self.report(f"qemu-test: {name}: FAILED after {time.monotonic() - started:.1f}s")
            raise StageFailed(name, str(error)) from error
        self.times[name] = time.monotonic() - started
        self.report(f"qemu-test: {name}: ok in {self.times[name]:.1f}s")


@dataclass
class Inputs:
    """Everything the host prepares, and what it must find again."""

    request_name: str
    request: bytes
    previous_name: str
    previous: bytes
    tampered_name: str
    tampered: bytes
    token_label: str
    pin: str
    ksk_line: str  # the KSK as a DNSKEY line: the trust anchor of the checks
    ksk_tag: int
    ksk_ds: str  # as the configuration on the stick writes it
    trust_anchor: Path
    config_stick: Path
    request_stick: Path
    tampered_stick: Path
    internal_disk: Path
    internal_sha256: str
    host_hsm_environment: dict[str, str]


def tamper(request: bytes) -> bytes:
    """The request with one base64 digit of its first proof-of-possession signature changed."""
    start = request.index(b"<SignatureData>") + len(b"<SignatureData>") + 10
    changed = b"B" if request[start:start + 1] == b"A" else b"A"
    return request[:start] + changed + request[start + 1:]


def guest_config(host_config: str, token_label: str) -> str:
    """The demo's configuration with its [hsm] table replaced by the transport to the host."""
    start, end = host_config.find("[hsm]\n"), host_config.find("\n[ksk_policy]")
    if start < 0 or end < 0:
        raise ScenarioFailed("the demo configuration no longer has [hsm] before [ksk_policy]")
    return host_config[:start] + guest_hsm_table(token_label) + host_config[end:]


def prepare(workdir: Path) -> Inputs:
    from appliance.commands import demo as demo_command  # SoftHSM, token, KSK, requests

    demo = demo_command.prepare_demo(workdir / "host-hsm")
    request = (demo.stick / demo.request).read_bytes()
    previous = (demo.stick / demo.previous).read_bytes()
    tampered_name = demo.request.replace("ksr-", "ksr-tampered-", 1)
    tampered = tamper(request)
    ksk_line = demo.trust_anchor.read_text().strip()
    config = guest_config(demo.config.read_text(), demo_command.TOKEN_LABEL)
    disk = workdir / "internal-disk.img"
    sticks.make_stick(disk, "INTERNAL", {"notes.txt": b"the laptop's own disk: never to be touched\n"},
                      size_mb=INTERNAL_DISK_MB)
    return Inputs(
        request_name=demo.request, request=request, previous_name=demo.previous, previous=previous,
        tampered_name=tampered_name, tampered=tampered,
        token_label=demo_command.TOKEN_LABEL, pin=demo_command.PIN,
        ksk_line=ksk_line, ksk_tag=dns.dnssec.key_id(ksk_rrset(ksk_line)[0]),
        ksk_ds=re.search(r'ds_sha256 = "([0-9A-F]{64})"', config).group(1), trust_anchor=demo.trust_anchor,
        config_stick=sticks.make_stick(workdir / "config-stick.img", "CONFIG",
                                       {"ceremony.toml": config.encode()}),
        request_stick=sticks.make_stick(workdir / "request-stick.img", "KSR",
                                        {demo.request: request, demo.previous: previous}),
        tampered_stick=sticks.make_stick(workdir / "tampered-stick.img", "KSR2",
                                         {tampered_name: tampered, demo.previous: previous}),
        internal_disk=disk, internal_sha256=amnesia.sha256_file(disk),
        host_hsm_environment={"SOFTHSM2_CONF": str(demo.directory / "softhsm2.conf")},
    )


def check_signed_stick(inputs: Inputs, workdir: Path) -> dict[str, bytes]:
    """The request's stick after signing: the originals untouched, the response valid, a log."""
    sticks.check_clean(inputs.request_stick)
    files = sticks.read_stick(inputs.request_stick)
    response_name = "skr" + inputs.request_name[3:]
    _originals_untouched(files, {inputs.request_name: inputs.request, inputs.previous_name: inputs.previous})
    if response_name not in files:
        raise CheckFailed(f"no response {response_name} on the stick; it holds {sorted(files)}")
    logs = [name for name in files if name.endswith(".log")]
    if len(logs) != 1:
        raise CheckFailed(f"expected one ceremony log on the stick, found {logs}")
    out = workdir / "from-request-stick"
    out.mkdir(exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    print("qemu-test:   " + verify_with_cli(out / response_name, out / inputs.request_name, inputs.trust_anchor))
    print("qemu-test:   " + verify_with_dnspython(files[response_name], ksk_rrset(inputs.ksk_line)))
    request_hex = hashlib.sha256(inputs.request).hexdigest()
    print("qemu-test:   " + check_log(files[logs[0]].decode("utf-8", "replace"), {
        "the verbal check": f"Verbal check confirmed for {inputs.request_name}, SHA-256 {request_hex}",
        "the HSM token": inputs.token_label,
        "the KSK's key tag": str(inputs.ksk_tag),
    }))
    return files


def check_refused_stick(inputs: Inputs, refusal: str) -> None:
    """The tampered request's stick: exactly what the host put on it, nothing written (the refusal
    is in the final log, which goes to the first stick)."""
    sticks.check_clean(inputs.tampered_stick)
    files = sticks.read_stick(inputs.tampered_stick)
    _originals_untouched(files, {inputs.tampered_name: inputs.tampered, inputs.previous_name: inputs.previous})
    added = sorted(set(files) - {inputs.tampered_name, inputs.previous_name})
    if added:
        raise CheckFailed(f"something was written to the refused request's stick: {added}")
    print(f"qemu-test:   refused with: {refusal or '(no FAIL line on screen)'}; nothing written to its stick")


def _originals_untouched(files: dict[str, bytes], originals: dict[str, bytes]) -> None:
    for name, data in originals.items():
        if files.get(name) != data:
            raise CheckFailed(f"{name} on the stick was changed or removed")


def run(iso: Path, workdir: Path, kvm: bool, timeout: float, stages: Stages, figures: dict[str, float]) -> None:
    """The whole scenario, noting what it measures in `figures`. Raises StageFailed."""
    started = time.monotonic()
    with stages.stage("prepare the host (token, KSK, sticks, internal disk)"):
        inputs = prepare(workdir)
    bridge = HsmBridge(workdir / "vm", HOST_MODULE, inputs.host_hsm_environment)
    pcap = workdir / "vm" / "network-tx.pcap"
    port_file = workdir / "parallel-port.out"
    vm = VirtualMachine(iso, workdir / "vm", kvm=kvm, network_card=False, extra_args=(
        *hotplug.XHCI_ARGS, *bridge.qemu_args(), *amnesia.network_args(pcap),
        "-drive", f"if=none,id=internal,format=raw,file={inputs.internal_disk}",
        "-device", "nvme,serial=INTERNAL0,drive=internal", *print_stage.qemu_args(port_file)))
    console = Console(vm, timeout)
    left_in_ram: StageFailed | None = None
    try:
        with stages.stage("boot to the ceremony console"):
            vm.start()
            bridge.start()
            console.boot()
            figures["boot to console (s)"] = vm.seconds_since_start()
        with stages.stage("set the clock"):
            console.set_clock()
        with stages.stage("log in to the host's token over PKCS#11"):
            console.log_in(inputs.config_stick, inputs.pin, inputs.ksk_tag)
        with stages.stage("request stick: plug in, import, checks"):
            plugged_at = console.import_valid_request("ksr", inputs.request_stick, inputs.request_name)
        with stages.stage("verbal check: hash and words equal the host's"):
            console.verbal_check(inputs.request)
            figures["stick inserted to hash shown (s)"] = time.monotonic() - plugged_at
        with stages.stage("sign, write the response and log, pull the stick"):
            console.sign_and_write()
            console.pull("ksr")
        with stages.stage("host: the response (verify-skr, dnspython) and the log"):
            signed = check_signed_stick(inputs, workdir)
        with stages.stage("print: the log on the parallel port, rendered and read back on the host"):
            print_stage.add_queue(vm.shell, timeout)
            print("qemu-test:   " + console.print_copies(1))
            log = next(data for name, data in signed.items() if name.endswith(".log"))
            print("qemu-test:   " + print_stage.check_printed(port_file, log, started_from_log(log) or "unknown", workdir))
        with stages.stage("tampered request: refused, no response written"):
            console.another()
            _, verdict = console.import_request("ksr2", inputs.tampered_stick, inputs.tampered_name)
            if verdict != "refused":
                raise ScenarioFailed("the tampered request was accepted")
            refusal = console.refusal_reasons()
            console.after_refusal()
            console.pull("ksr2")
            check_refused_stick(inputs, refusal)
        with stages.stage("shut the ceremony down, final log to the first stick"):
            console.shut_down("ksr-again", inputs.request_stick)
            console.pull("ksr-again")
            final = _final_log(inputs)
            print(f"qemu-test:   final log: {len(final.splitlines())} lines, with the response's SHA-256, "
                  "the refusal, the log-out")
        try:  # a trace left in RAM is reported together with the measures after the power-off
            with stages.stage("amnesia: interfaces, traffic, nothing of the session in RAM files"):
                _check_guest_amnesia(vm, inputs, timeout)
        except StageFailed as failure:
            left_in_ram = failure
        with stages.stage("the ceremony ends, the appliance powers off"):
            console.end(timeout=120)
        if bridge.failure:
            raise StageFailed("HSM bridge", bridge.failure)
    finally:
        bridge.stop()
        vm.stop()
    with stages.stage("amnesia: internal disk unchanged, no packet sent"):
        after = amnesia.sha256_file(inputs.internal_disk)
        if after != inputs.internal_sha256:
            raise StageFailed("amnesia", f"the internal disk changed: SHA-256 {inputs.internal_sha256} "
                                         f"before, {after} after")
        packets = amnesia.pcap_packets(pcap)
        if packets:
            raise StageFailed("amnesia", f"the network card sent {packets} packet(s) (see {pcap})")
        print(f"qemu-test:   internal disk SHA-256 {after} before and after; network card sent 0 packets; "
              f"{bridge.sessions} PKCS#11 session(s) over the bridge")
    figures["whole scenario, host preparation to last check (s)"] = time.monotonic() - started
    if left_in_ram is not None:
        raise left_in_ram


def run_default_entry(iso: Path, workdir: Path, kvm: bool, timeout: float, stages: Stages,
                      figures: dict[str, float], inputs: Inputs | None = None) -> None:
    """A second boot, as the room sees it: the default entry (no key at the menu), OVMF on a
    1920x1080 panel, the ceremony on tty1 read by OCR from QMP screendumps and typed on with QMP
    send-key, up to the verbal check, whose 32 words must be the request's. The screenshots of
    every step are in <workdir>/vm-screen/screens/. Raises StageFailed."""
    if inputs is None:
        with stages.stage("prepare the host (token, KSK, sticks, internal disk)"):
            inputs = prepare(workdir)
    stick = sticks.make_stick(workdir / "screen-stick.img", "KSR",
                              {inputs.request_name: inputs.request, inputs.previous_name: inputs.previous})
    vmdir = workdir / "vm-screen"
    bridge = HsmBridge(vmdir, HOST_MODULE, inputs.host_hsm_environment)
    vm = VirtualMachine(iso, vmdir, firmware="uefi", kvm=kvm, network_card=False,
                        extra_args=(*screen.PANEL_ARGS, *hotplug.XHCI_ARGS, *bridge.qemu_args()))
    console = screen.ScreenConsole(vm, timeout)
    serial = None
    started = time.monotonic()
    try:
        with stages.stage("default entry: boot to the console on tty1 (1920x1080)"):
            vm.start()
            bridge.start()
            serial, vm.console = vm.console, screen.Screen(vm, vmdir / "screens")
            console.boot()
            figures["default entry: boot to console on tty1 (s)"] = vm.seconds_since_start()
            size, rows = vm.console.size, screen.title_bar_rows(vm.console.size[0], vm.console._rgb)
            if size != (1920, 1080) or rows != screen.FONT_HEIGHT:
                raise ScenarioFailed(f"the screen is {size[0]}x{size[1]} with a blue title bar {rows} pixels "
                                     f"high; expected 1920x1080 and {screen.FONT_HEIGHT} (Terminus 16x32)")
            print(f"qemu-test:   tty1 at {size[0]}x{size[1]}, title bar bold white on blue, {rows} pixels high")
        with stages.stage("default entry: clock, HSM, request by keyboard on tty1"):
            console.set_clock()
            console.log_in(inputs.config_stick, inputs.pin, inputs.ksk_tag)
            _, verdict = console.import_request("ksr", stick, inputs.request_name)
            if verdict != "accepted":
                raise ScenarioFailed("the request was refused on tty1")
        with stages.stage("default entry: the verbal check's words on the screen are the request's"):
            words = console.verbal_check_words(inputs.request)
            print(f"qemu-test:   OCR read all 32 words ({' '.join(words[:4])} ...) from the screenshot")
        figures["default entry: the whole boot (s)"] = time.monotonic() - started
    finally:
        bridge.stop()
        vm.stop()
        if serial is not None:
            serial.close()


def _final_log(inputs: Inputs) -> str:
    files = sticks.read_stick(inputs.request_stick)
    logs = [name for name in files if name.endswith(".log")]
    if len(logs) != 1:
        raise CheckFailed(f"expected one ceremony log on the first stick after the shutdown, found {logs}")
    log = files[logs[0]].decode("utf-8", "replace")
    response = "skr" + inputs.request_name[3:]
    check_log(log, {"the response's SHA-256, verified on the stick": hashlib.sha256(files[response]).hexdigest(),
                    "the refusal": f"Request {inputs.tampered_name} refused",
                    "the log-out": "Logging out of the HSM"})
    return log


def _check_guest_amnesia(vm, inputs: Inputs, timeout: float) -> None:
    shell = vm.shell
    shell.wait_ready(timeout)
    checks = {
        "interfaces up": ("ip -o link show up | cut -d: -f2 | tr -d ' '", "lo"),
        "frames sent by any card but lo": (
            "for i in /sys/class/net/*; do [ ${i##*/} = lo ] || cat $i/statistics/tx_packets; done "
            "| awk '{s += $1} END {print s + 0}'", "0"),
        "the internal disk is seen": ("test -b /dev/nvme0n1 && echo seen", "seen"),
        "the internal disk is not mounted": ("grep -c nvme /proc/mounts || true", "0"),
    }
    for what, (command, expected) in checks.items():
        status, output = run_in_guest(shell, command, timeout=120, reason=what)
        if output != expected:
            raise ScenarioFailed(f"{what}: expected {expected!r}, the guest said {output!r} (exit {status})")
    # A planted file is the control: a search that cannot find it proves nothing.
    control = secrets.token_hex(16)
    shell.run(f"echo {base64.b64encode(control.encode()).decode()} | base64 -d > {AMNESIA_CONTROL}",
              reason="planting the search's control file")
    texts = {"the control": control, **session_texts(inputs)}
    status, output = run_in_guest(shell, amnesia.guest_scan_command(list(texts.values())),
                                  timeout=max(timeout, 600), reason="the search for the session's traces")
    shell.run(f"rm {AMNESIA_CONTROL}", reason="removing the control file")
    lines = output.splitlines()
    if status != 0 or not lines or not lines[-1].startswith("scanned "):
        raise ScenarioFailed(f"the search for the session's traces did not run (exit {status}): {output[-800:]}")
    names = list(texts)
    found = [re.sub(r"session text (\d+)$", lambda m: names[int(m.group(1)) - 1], line) for line in lines[:-1] if line]
    if f"{AMNESIA_CONTROL} holds the control" not in found:
        raise ScenarioFailed(f"the search for the session's traces missed its control file: {found}")
    traces = [line for line in found if not line.startswith(AMNESIA_CONTROL)]
    if traces:
        raise ScenarioFailed("the session left traces in the guest's RAM after the shutdown:\n" + "\n".join(traces))
    print(f"qemu-test:   {lines[-1]} on RAM file systems, plus kernel log and journal: the control found, "
          f"none of: {', '.join(names[1:])}")


def session_texts(inputs: Inputs) -> dict[str, str]:
    """What only this session knew, by name; none of it may remain in the guest after the shutdown."""
    return {
        "the request's SHA-256": hashlib.sha256(inputs.request).hexdigest(),
        "the tampered request's SHA-256": hashlib.sha256(inputs.tampered).hexdigest(),
        "the request's name": inputs.request_name,
        "the tampered request's name": inputs.tampered_name,
        "the response's name": "skr" + inputs.request_name[3:],
        "the configuration's KSK DS": inputs.ksk_ds,
    }


def add_vm_arguments(parser: argparse.ArgumentParser) -> None:
    """--iso, --kvm, --timeout and --keep, shared by the tests that boot the DVD."""
    from image.build import DEFAULT_ISO

    parser.add_argument("--iso", type=Path, default=DEFAULT_ISO)
    parser.add_argument("--kvm", action="store_true", help="use KVM instead of TCG")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed for each wait")
    parser.add_argument("--keep", action="store_true", help="keep the work directory after a pass")


def one_boot_main(description: str, label: str, run: Callable[[Path, Path, bool, float, Stages], None],
                  logs: str) -> int:
    """The command line of a test that boots the DVD once: `run(iso, workdir, kvm, timeout, stages)`
    in a new work directory, each stage reported under LABEL. Exit status: 0 every stage passed
    (the directory removed unless --keep), 1 a stage failed (the directory kept; LOGS says what is
    in it), 2 no ISO."""
    parser = argparse.ArgumentParser(description=description)
    add_vm_arguments(parser)
    args = parser.parse_args()
    if not args.iso.exists():
        print(f"{label}: {args.iso} does not exist: run `make image` first", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix=re.sub(r"\W+", "-", label.lower()).strip("-") + "-"))
    stages = Stages(report=lambda line: print(line.replace("qemu-test:", f"{label}:"), flush=True))
    started = time.monotonic()
    try:
        run(args.iso, workdir, args.kvm, args.timeout, stages)
    except StageFailed as failure:
        print(f"{label}: FAILED: {failure}\n{label}: logs and images in {workdir} ({logs})", file=sys.stderr)
        return 1
    print(f"{label}: all stages passed in {time.monotonic() - started:.0f}s")
    if args.keep:
        print(f"{label}: work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_vm_arguments(parser)
    parser.add_argument("--default-entry-only", action="store_true",
                        help="only the second boot: the default entry on tty1, read by OCR")
    args = parser.parse_args()
    if not args.iso.exists():
        print(f"qemu-test: {args.iso} does not exist: run `make image` first", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="qemu-test-"))
    stages = Stages(report=lambda line: print(line, flush=True))
    figures: dict[str, float] = {}
    try:
        if not args.default_entry_only:
            run(args.iso, workdir, args.kvm, args.timeout, stages, figures)
        (workdir / "default-entry").mkdir()
        run_default_entry(args.iso, workdir / "default-entry", args.kvm, args.timeout, stages, figures)
    except StageFailed as failure:
        print(f"qemu-test: FAILED: {failure}\nqemu-test: logs and images in {workdir} "
              f"(vm/ttyS0.log: the console, vm/ttyS1.log: the shell, vm/hsm-bridge.log)", file=sys.stderr)
        _print_figures(figures)
        return 1
    print("qemu-test: all stages passed")
    _print_figures(figures)
    if args.keep:
        print(f"qemu-test: work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _print_figures(figures: dict[str, float]) -> None:
    for name, value in figures.items():
        print(f"qemu-test:   {name}: {value:.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

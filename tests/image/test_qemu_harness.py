"""The QEMU test's harness without booting anything: the console steps against a fake serial port
(a Unix socket playing back what the appliance would show), stick images, the host's checks of a
response, the amnesia measures, and the PKCS#11 bridge against a fake QEMU."""
import os
import socket
import struct
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance import dnssec, synth
from appliance.console.step_verbal import hash_screen
from appliance.digest import Fingerprint
from appliance.formats import write_request, write_response
from appliance.printing import cups
from appliance.policy import check_request_bytes, load_policy
from image import amnesia, sticks
from image.host_checks import CheckFailed, ksk_rrset, verify_with_dnspython
from image.qemu import SerialPort
from image.qemu_test import Stages, StageFailed, guest_config, tamper
from image.scenario import Console, ScenarioFailed

REQUEST = b"<KSR>the request's bytes as they went onto the stick</KSR>"


class FakeVm:
    """The appliance's serial console played back from `transcript`; QMP commands recorded.
    `after_plug`, if given, is played only at the first QMP command (a stick plugged in), as the
    appliance answers a stick: a harness that notes where the screen stood before it plugs one
    then sees that part arrive after, as it would in a VM, whatever the threads' timing."""

    def __init__(self, tmp_path: Path, transcript: bytes, after_plug: bytes = b""):
        path = tmp_path / "ttyS0.sock"
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(1)
        self.console = SerialPort("ttyS0", path, tmp_path / "ttyS0.log")
        self._peer, _ = self._server.accept()
        self._peer.sendall(transcript)
        self._after_plug = after_plug
        self.qmp_calls = []

    def qmp(self, command, **arguments):
        self.qmp_calls.append((command, arguments))
        if self._after_plug:
            self._peer.sendall(self._after_plug)
            self._after_plug = b""
        return {}

    def close(self):
        self._peer.close()
        self.console.close()
        self._server.close()


@pytest.fixture
def fake_vm(tmp_path):
    made = []

    def make(screen: str, after_plug: str = "") -> FakeVm:
        # As a serial terminal receives it: rows ended by clear-to-end-of-line and CR LF.
        def received(text: str) -> bytes:
            return text.replace("\n", "\x1b[K\r\n").encode()

        made.append(FakeVm(tmp_path, received(screen), received(after_plug)))
        return made[-1]

    yield make
    for vm in made:
        vm.close()


def verbal_screen(data: bytes) -> str:
    return "\n".join(hash_screen(Fingerprint.of(data), "the request", "ksr.xml")
                     + ["", "Do they match? Type 'yes' to sign (anything else aborts):"])


def test_the_hash_the_host_computes_passes(fake_vm):
    vm = fake_vm(verbal_screen(REQUEST))
    shown = Console(vm, timeout=5).verbal_check(REQUEST)
    assert shown.hex == Fingerprint.of(REQUEST).hex and shown.words == [w.lower() for w in Fingerprint.of(REQUEST).words]


def test_a_hash_mismatch_fails_its_stage_with_both_hashes(fake_vm):
    vm = fake_vm(verbal_screen(REQUEST + b" changed on the way"))
    lines = []
    with pytest.raises(StageFailed) as failure:
        with Stages(report=lines.append).stage("verbal check"):
            Console(vm, timeout=5).verbal_check(REQUEST)
    message = str(failure.value)
    assert message.startswith("stage 'verbal check' failed: hash mismatch: the console shows "
                              f"{Fingerprint.of(REQUEST + b' changed on the way').hex}")
    assert f"the host computed {Fingerprint.of(REQUEST).hex}" in message
    assert lines[-1].startswith("qemu-test: verbal check: FAILED after")


def test_a_console_that_never_comes_is_a_boot_timeout(fake_vm):
    vm = fake_vm("SeaBIOS\nBooting from DVD/CD...\nSerial console\nKernel panic - not syncing\n")
    with pytest.raises(StageFailed) as failure:
        with Stages(report=lambda line: None).stage("boot"):
            Console(vm, timeout=0.5).boot()
    assert "boot timeout: the ceremony console's first screen never appeared" in str(failure.value)
    assert "Kernel panic" in str(failure.value)  # what the console showed last


@pytest.mark.parametrize("copies", [1, 2])
def test_the_print_stage_reads_the_job_outcome_the_console_shows(fake_vm, copies):
    """The print stage matches the outcome line as `cups.JobOutcome` words it ('1 copy', '2 copies')."""
    said = cups.JobOutcome(f"lpt-{copies}", copies, "completed", "").describe()
    vm = fake_vm(f"Printer lpt: Generic PostScript Printer (parallel:/dev/lp0), idle\n{said}\n"
                 "Type 'another' or 'shutdown':\n")
    assert Console(vm, timeout=5).print_copies(copies) == said


def test_a_stick_the_console_never_lists_is_not_detected(fake_vm, tmp_path):
    vm = fake_vm("Step 3 of 6: Import and check the request\nInsert the stick with the request (KSR).\n"
                 "Waiting for a stick (or type 'cancel'):\n")
    with pytest.raises(StageFailed, match="stick not detected: the console listed no request"):
        with Stages(report=lambda line: None).stage("request stick"):
            Console(vm, timeout=0.5).import_request("ksr", tmp_path / "stick.img", "ksr.xml")
    assert [c for c, _ in vm.qmp_calls] == ["blockdev-add", "device_add"]
    assert vm.qmp_calls[1][1]["bus"] == "xhci.0" and vm.qmp_calls[1][1]["driver"] == "usb-storage"


def test_a_refused_request_is_reported_with_its_failed_checks(fake_vm, tmp_path):
    vm = fake_vm("Step 3 of 6: Import and check the request\nWaiting for a stick (or type 'cancel'):\n"
                 "  Requests (KSR):\n    1. ksr.xml  (100 bytes)\nNumber of the request to import (or 'cancel'):\n"
                 "Number of the previous response, or 'none':\n"
                 "Step 3 of 6: Import and check the request\nPASS  KSR-XML\n"
                 "FAIL  KSR-BUNDLE-POP: bundle 1: the proof of possession\n      does not verify\n"
                 "REFUSED: ksr.xml will not be signed.\n")
    console = Console(vm, timeout=5)
    _, verdict = console.import_request("ksr", tmp_path / "stick.img", "ksr.xml")
    assert verdict == "refused"
    assert console.refusal_reasons() == "FAIL  KSR-BUNDLE-POP: bundle 1: the proof of possession does not verify"


# --- the host's checks of what came back on the stick ---------------------------------------------


@pytest.fixture(scope="module")
def signed():
    request, _ = synth.generate_request(datetime.now(UTC).replace(microsecond=0) - timedelta(days=5))
    response, _ = synth.generate_response(request)
    ksk = next(k for b in response.bundles for k in b.keys if k.flags & dnssec.FLAG_SEP)
    import base64

    line = f". {ksk.ttl} IN DNSKEY {ksk.flags} {ksk.protocol} {ksk.algorithm} {base64.b64encode(ksk.public_key).decode()}"
    return request, response, line


def test_dnspython_accepts_a_response_signed_by_the_ksk(signed):
    _, response, line = signed
    assert verify_with_dnspython(write_response(response), ksk_rrset(line)).startswith("dnspython: 9 RRSIGs")


def test_an_invalid_signature_is_named_by_bundle(signed):
    from dataclasses import replace

    _, response, line = signed
    bundle = response.bundles[3]
    bad = replace(bundle.signatures[0], signature_data=bytes(len(bundle.signatures[0].signature_data)))
    bundles = list(response.bundles)
    bundles[3] = replace(bundle, signatures=(bad,))
    with pytest.raises(CheckFailed, match=rf"signature invalid: dnspython rejects bundle 4 \({bundle.id}\)"):
        verify_with_dnspython(write_response(replace(response, bundles=tuple(bundles))), ksk_rrset(line))


def test_the_tampered_request_fails_proof_of_possession(signed):
    request, _, _ = signed
    data = write_request(request)
    verdict = check_request_bytes(tamper(data), load_policy("root"), None, now=datetime.now(UTC)).verdict
    assert not verdict.valid and verdict.failed("KSR-BUNDLE-POP")


def test_guest_configuration_reaches_the_host_token_only():
    host = '[hsm]\nmodule = "/usr/lib/softhsm/libsofthsm2.so"\ntoken = "t"\n[hsm.environment]\n' \
           'SOFTHSM2_CONF = "/tmp/x/softhsm2.conf"\n\n[ksk_policy]\nttl = 1\n'
    guest = guest_config(host, "t")
    assert "softhsm" not in guest.lower()
    assert 'module = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"' in guest
    assert 'P11_KIT_SERVER_ADDRESS = "|/usr/local/libexec/ceremony/pkcs11-over-virtio-serial"' in guest
    assert guest.endswith("\n[ksk_policy]\nttl = 1\n")


# --- stick images and amnesia measures -----------------------------------------------------------


def test_stick_image_round_trip(tmp_path):
    files = {"ksr-root-2027-q1-0.xml": b"<KSR/>" * 500, "skr-root-2026-q4-0.xml": bytes(range(256))}
    image = sticks.make_stick(tmp_path / "stick.img", "KSR", files)
    assert sticks.read_stick(image) == files
    sticks.check_clean(image)


def test_a_damaged_stick_is_reported(tmp_path):
    image = sticks.make_stick(tmp_path / "stick.img", "KSR", {"a.xml": b"x"})
    with open(image, "r+b") as f:
        f.seek(0x0B)
        f.write(b"\x00\x00")  # bytes per sector: 0, no FAT file system can say that
    with pytest.raises(sticks.StickError, match="stick.img"):
        sticks.check_clean(image)


def test_pcap_packets_are_counted(tmp_path):
    pcap = tmp_path / "tx.pcap"
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    pcap.write_bytes(header)
    assert amnesia.pcap_packets(pcap) == 0
    frame = b"\xff" * 60
    pcap.write_bytes(header + 2 * (struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame))
    assert amnesia.pcap_packets(pcap) == 2


def test_guest_scan_finds_a_session_text_and_never_carries_it_in_clear():
    command = amnesia.guest_scan_command(["c0ffee" * 10])
    assert "c0ffee" not in command  # the shell's transcript must not match itself


# --- the PKCS#11 bridge, against a fake QEMU -------------------------------------------------------

# Plays QEMU: the bridge's two sockets, and a third where a "guest" connects; each guest
# connection is one open of the virtio port (VSERPORT_CHANGE open, then closed).
FAKE_QEMU = r"""
import socket, sys, threading
work = sys.argv[1]
def listen(name):
    s = socket.socket(socket.AF_UNIX); s.bind(f"{work}/{name}"); s.listen(); return s
data_l, qmp_l, guest_l = listen("hsm.sock"), listen("hsm-qmp.sock"), listen("guest.sock")
data, _ = data_l.accept(); qmp, _ = qmp_l.accept()
qmp.sendall(b'{"QMP": {}}\r\n'); qmp.recv(100); qmp.sendall(b'{"return": {}}\r\n')
def port_event(opened):
    qmp.sendall(b'{"event": "VSERPORT_CHANGE", "data": {"id": "hsm-port", "open": %s}}\r\n' % (b"true" if opened else b"false"))
while True:
    guest, _ = guest_l.accept()
    port_event(True)
    done = threading.Event()
    def down():
        data.settimeout(0.1)
        while not done.is_set():
            try: chunk = data.recv(65536)
            except socket.timeout: continue
            guest.sendall(chunk)
    reader = threading.Thread(target=down); reader.start()
    while chunk := guest.recv(65536): data.sendall(chunk)
    done.set(); reader.join(); guest.close()
    port_event(False)
"""

# Plays the guest's pkcs11-over-virtio-serial: stdin/stdout to the "port".
GUEST_PIPE = r"""
import os, socket, sys, threading
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def down():
    while chunk := s.recv(65536): os.write(1, chunk)
threading.Thread(target=down, daemon=True).start()
while chunk := os.read(0, 65536): s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
"""

CLIENT = r"""
import pkcs11, sys
lib = pkcs11.lib(sys.argv[1])
print(lib.get_token(token_label=sys.argv[2]).label)
"""


@pytest.mark.softhsm
def test_bridge_serves_the_host_token_to_successive_guest_sessions(tmp_path):
    from image.hsm_bridge import GUEST_MODULE, HsmBridge

    conf = tmp_path / "softhsm2.conf"
    (tmp_path / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bridged", "--so-pin", "12345678",
                    "--pin", "123456"], env={**os.environ, "SOFTHSM2_CONF": str(conf)}, check=True,
                   capture_output=True)
    (tmp_path / "qemu.py").write_text(FAKE_QEMU)
    (tmp_path / "pipe.py").write_text(GUEST_PIPE)
    qemu = subprocess.Popen([sys.executable, str(tmp_path / "qemu.py"), str(tmp_path)])
    bridge = HsmBridge(tmp_path, "/usr/lib/softhsm/libsofthsm2.so", {"SOFTHSM2_CONF": str(conf)})
    try:
        bridge.start()
        # The guest's environment: no SOFTHSM2_CONF, nothing but the transport.
        guest_env = {"PATH": os.environ["PATH"],
                     "P11_KIT_SERVER_ADDRESS": f"|{sys.executable} {tmp_path / 'pipe.py'} {tmp_path / 'guest.sock'}"}
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", CLIENT, GUEST_MODULE, "bridged"], env=guest_env,
                                  capture_output=True, text=True, timeout=60)
            assert done.stdout.strip() == "bridged", done.stderr
    finally:
        bridge.stop()
        qemu.kill()
        qemu.wait()
    assert bridge.sessions == 2 and bridge.failure is None
    assert bridge.bytes_from_guest > 0 and bridge.bytes_to_guest > 0


class LocalShell:
    """The administrator's shell played by a local bash: the screen shows the echoed command line
    (as the serial port does), then what bash printed."""

    def __init__(self):
        self.screen = ""
        self.port = self

    def text(self):
        return self.screen

    def run(self, command, timeout, reason):
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=timeout)
        self.screen += f"root@ceremony:~# {command}\n" + done.stdout
        return 0, done.stdout


def test_run_in_guest_returns_only_the_command_output_and_status():
    from image.scenario import run_in_guest

    shell = LocalShell()
    assert run_in_guest(shell, "echo lo; echo '<<out>>fake<<end>>9' >&2; exit 3", 10, "x") == (3, "lo\n<<out>>fake<<end>>9")
    assert run_in_guest(shell, "printf 'a\\nb'", 10, "x") == (0, "a\nb")


def test_verify_skr_failing_is_a_signature_invalid(signed, tmp_path):
    from dataclasses import replace

    from image.host_checks import verify_with_cli

    request, response, line = signed
    (tmp_path / "ksr.xml").write_bytes(write_request(request))
    (tmp_path / "ksk.dnskey").write_text(line + "\n")
    (tmp_path / "skr.xml").write_bytes(write_response(response))
    assert verify_with_cli(tmp_path / "skr.xml", tmp_path / "ksr.xml", tmp_path / "ksk.dnskey").endswith("exit 0")
    bundle = response.bundles[0]
    data = bytearray(bundle.signatures[0].signature_data)
    data[7] ^= 1
    bundles = (replace(bundle, signatures=(replace(bundle.signatures[0], signature_data=bytes(data)),)),) + response.bundles[1:]
    (tmp_path / "skr.xml").write_bytes(write_response(replace(response, bundles=bundles)))
    with pytest.raises(CheckFailed, match=r"signature invalid: `ceremony verify-skr` exited [1-9]"):
        verify_with_cli(tmp_path / "skr.xml", tmp_path / "ksr.xml", tmp_path / "ksk.dnskey")


@pytest.mark.softhsm
def test_nothing_may_be_written_to_a_refused_stick(tmp_path):
    from image.qemu_test import check_refused_stick, prepare

    inputs = prepare(tmp_path)
    originals = {inputs.tampered_name: inputs.tampered, inputs.previous_name: inputs.previous}
    sticks.make_stick(inputs.tampered_stick, "KSR2", originals)
    check_refused_stick(inputs, "FAIL  KSR-BUNDLE-POP")
    log = f"... ERROR  Request {inputs.tampered_name} refused by 1 failed check(s)\n".encode()
    sticks.make_stick(inputs.tampered_stick, "KSR2", {**originals, "ceremony-20270101T000000Z.log": log})
    with pytest.raises(CheckFailed, match="something was written to the refused request's stick"):
        check_refused_stick(inputs, "FAIL  KSR-BUNDLE-POP")

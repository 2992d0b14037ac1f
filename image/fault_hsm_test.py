"""`make fault-test`, the HSM's half: the HSM's link drops in the booted DVD, with the real console,
in one boot.

The guest reaches the host's SoftHSM token over the virtio serial port and image/hsm_bridge.py
(as in `make qemu-test`); the bridge pulls the link as a cable pulled would:
  1. after the PIN (the HSM activated, the console idle at the request step): the request's
     checks then find the HSM gone;
  2. after reconnecting, in the middle of signing: the guest's C_SignInit for the fifth of the
     nine signatures is not passed on, and the link closes.
Each time the screen must say which failure (HSM-NO-ANSWER or HSM-LINK-LOST), while doing what,
and that nothing was written; the request's stick must be as the host made it; the bridge is
plugged in again, the operators type 'reconnect' and the PIN, and finish: the same request
signed again is said to be a second signing ('again'). On the host: the response on the
request's stick (`ceremony verify-skr`, dnspython) and the log naming both losses.

The guest's configuration sets `[hsm.options] answer_within` to ANSWER_WITHIN seconds, so that
a link gone silent costs the test that long instead of the default minute.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from image import hotplug, sticks
from image.hsm_bridge import HsmBridge
from image.host_checks import CheckFailed, check_log, ksk_rrset, verify_with_cli, verify_with_dnspython
from image.qemu import VirtualMachine
from image.qemu_test import HOST_MODULE, Stages, StageFailed, one_boot_main, prepare
from image.scenario import Console, ScenarioFailed, phrase

ANSWER_WITHIN = 30  # seconds; a TCG guest's slowest HSM answer (the session's start) takes a few
SIGNED_BEFORE_DROP = 4
LOST = r"HSM-(?:NO-ANSWER|LINK-LOST):\s+THE\s+HSM\s+WENT\s+AWAY\s+"


def config_with_limit(config_stick: Path, workdir: Path) -> Path:
    """A copy of the configuration stick whose [hsm] answers within ANSWER_WITHIN seconds."""
    text = sticks.read_stick(config_stick)["ceremony.toml"].decode()
    if "[hsm.environment]\n" not in text:
        raise ScenarioFailed("the guest configuration has no [hsm.environment] table to put the limit before")
    text = text.replace("[hsm.environment]\n", f"[hsm.options]\nanswer_within = {ANSWER_WITHIN}\n[hsm.environment]\n", 1)
    return sticks.make_stick(workdir / "config-limit-stick.img", "CONFIG", {"ceremony.toml": text.encode()})


def said(console: Console, pattern: str, reason: str, timeout: float) -> str:
    """The screen's words from `pattern` on, in one line."""
    found = console.see(pattern, reason, timeout=timeout)
    return " ".join(found.group(0).split())


def the_hsm_went_away(console: Console, doing: str, then: str) -> str:
    """The loss on the screen, while `doing`, up to the question `then`; returns what it said."""
    told = said(console, LOST + phrase(doing.upper()) + r"(?s:.*?)" + phrase(then),
                f"no HSM-NO-ANSWER / HSM-LINK-LOST {doing!r} on the screen", timeout=ANSWER_WITHIN * 4 + 60)
    if "Traceback" in told:
        raise ScenarioFailed(f"a traceback on the screen: {told[-800:]}")
    return told


def reconnect(console: Console, bridge: HsmBridge, pin: str) -> None:
    """At the question 'reconnect' or 'shutdown': plug the bridge in again, type the PIN."""
    console.see(phrase("'reconnect' or 'shutdown':"), "the question to reconnect the HSM")
    bridge.reconnect()
    console.answer("reconnect")
    console.see(phrase("PIN (typing is not shown):"), "the PIN question after 'reconnect'")
    console.answer(pin)
    console.see(phrase("Reconnected: the same token as before"), "the HSM not logged in again after 'reconnect'")
    console.see(phrase("Press Enter to continue:"), "the HSM's screen after the reconnect")
    console.answer("")
    console.see(phrase("'another' or 'shutdown':"), "the question for another request after the reconnect")


def check_untouched(stick: Path, originals: dict[str, bytes], when: str) -> str:
    files = sticks.read_stick(stick)
    if files != originals:
        raise CheckFailed(f"{when}: the request's stick holds {sorted(files)}, not only what the host put on it")
    return f"{when}: the request's stick holds only {sorted(files)}, as the host made it"


def run(iso: Path, workdir: Path, kvm: bool, timeout: float, stages: Stages) -> None:
    with stages.stage("prepare the host (token, KSK, sticks)"):
        inputs = prepare(workdir)
        config_stick = config_with_limit(inputs.config_stick, workdir)
    originals = {inputs.request_name: inputs.request, inputs.previous_name: inputs.previous}
    response = "skr" + inputs.request_name[3:]
    bridge = HsmBridge(workdir / "vm", HOST_MODULE, inputs.host_hsm_environment)
    vm = VirtualMachine(iso, workdir / "vm", kvm=kvm, network_card=False,
                        extra_args=(*hotplug.XHCI_ARGS, *bridge.qemu_args()))
    console = Console(vm, timeout)
    told: dict[str, str] = {}
    try:
        with stages.stage("boot, clock, HSM"):
            vm.start()
            bridge.start()
            console.boot()
            console.set_clock()
            console.log_in(config_stick, inputs.pin, inputs.ksk_tag)
        with stages.stage("the link drops after the PIN; the request's checks find the HSM gone"):
            bridge.drop_now()
            console.see(phrase("Waiting for a stick"), "the request step asking for the stick")
            hotplug.plug(vm, "ksr", inputs.request_stick)
            console.see(phrase("Number of the request to import"), "the request stick not listed")
            console.answer("1")
            console.see(phrase("Number of the previous response"), "the question for the previous response")
            console.answer("1")
            told["after the PIN"] = the_hsm_went_away(console, "while checking", "The HSM went away. Press Enter")
            if "nothing was written" not in told["after the PIN"]:
                raise ScenarioFailed(f"the screen does not say that nothing was written: {told['after the PIN']!r}")
            console.answer("")
            console.pull("ksr")
            print("fault-test:   " + check_untouched(inputs.request_stick, originals, "after the first loss"))
        with stages.stage("reconnect; the request again, the link drops mid-signing"):
            reconnect(console, bridge, inputs.pin)
            bridge.drop_at(SIGNED_BEFORE_DROP)
            console.another()
            console.import_valid_request("ksr2", inputs.request_stick, inputs.request_name)
            console.verbal_check(inputs.request)
            console.answer("yes")
            told["mid-signing"] = the_hsm_went_away(console, "while signing", "SIGNING BROKEN OFF. Press Enter")
            made = re.search(r"The HSM returned (\d+) of the (\d+) signatures", told["mid-signing"])
            if made is None or made.group(1) != str(SIGNED_BEFORE_DROP):
                raise ScenarioFailed(f"the screen does not say {SIGNED_BEFORE_DROP} signatures were made: "
                                     f"{told['mid-signing']!r}")
            if "NO response was made: nothing was written, nothing half-written" not in told["mid-signing"]:
                raise ScenarioFailed(f"the screen does not say no response was written: {told['mid-signing']!r}")
            console.answer("")
            console.pull("ksr2")
            print("fault-test:   " + check_untouched(inputs.request_stick, originals, "after the loss mid-signing"))
        with stages.stage("reconnect; the same request signed again, said as a second signing"):
            reconnect(console, bridge, inputs.pin)
            console.another()
            console.import_valid_request("ksr3", inputs.request_stick, inputs.request_name)
            console.verbal_check(inputs.request)
            console.answer("yes")
            told["second signing"] = said(
                console, phrase("THIS REQUEST WAS SIGNED BEFORE IN THIS CEREMONY") + r"(?s:.*?)" + phrase("Type 'again'"),
                "no 'SIGNED BEFORE' for the request whose signing was broken off", timeout=timeout)
            if "PART-WAY" not in told["second signing"]:
                raise ScenarioFailed(f"the broken-off signing is not named: {told['second signing']!r}")
            console.sign_and_write("again")
            console.pull("ksr3")
        with stages.stage("shut down, final log to the request's stick"):
            console.shut_down("ksr-log", inputs.request_stick)
            console.pull("ksr-log")
            console.end(timeout=120)
    finally:
        bridge.stop()
        vm.stop()
    with stages.stage("host: the response and the log on the request's stick"):
        for name, text in told.items():
            print(f"fault-test:   screen, {name}: {text[:400]}")
        sticks.check_clean(inputs.request_stick)
        files = sticks.read_stick(inputs.request_stick)
        logs = [name for name in files if name.endswith(".log")]
        if response not in files or len(logs) != 1:
            raise CheckFailed(f"the request's stick holds {sorted(files)}, not the response and one log")
        out = workdir / "from-request-stick"
        out.mkdir()
        for name, data in files.items():
            (out / name).write_bytes(data)
        print("fault-test:   " + verify_with_cli(out / response, out / inputs.request_name, inputs.trust_anchor))
        print("fault-test:   " + verify_with_dnspython(files[response], ksk_rrset(inputs.ksk_line)))
        print("fault-test:   " + check_log(files[logs[0]].decode("utf-8", "replace"), {
            "the loss while checking": f"the HSM went away while checking {inputs.request_name}",
            "the loss while signing": f"the HSM went away while signing {inputs.request_name}",
            "the signing broken off": f"broken off: at",
            "the reconnects": "Reconnecting the HSM: a new session, the PIN typed again",
            "the second signing": "SECOND SIGNING of",
        }))
    print(f"fault-test:   {bridge.sessions} PKCS#11 session(s) over the bridge")
    if bridge.failure:
        raise StageFailed("HSM bridge", bridge.failure)


def main() -> int:
    return one_boot_main(__doc__.splitlines()[0], "fault-test (HSM)", run, "vm/ttyS0.log: the console, vm/hsm-bridge.log: the link")


if __name__ == "__main__":
    sys.exit(main())

"""`ceremony demo`: a whole ceremony on any machine, against a throwaway SoftHSM token.

It makes what a real ceremony starts with: an HSM (a SoftHSM token in a temporary directory,
reached through SOFTHSM2_CONF, with a KSK generated inside it), a configuration pinning that
KSK, last quarter's request and the response signed for it, and this quarter's request
(fresh ZSKs, chained to last quarter's) on a "stick" folder. Then it runs the real console on
them, and at the end checks the response with the real `ceremony verify-skr`.

With --unattended the autopilot types the answers through the console's own input path, for
scripts and CI. Nothing here is for production: the PIN is printed and the token is a file.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance import dnssec, safefile, synth
from appliance.clock import CeremonyClock
from appliance.commands.keys import dnskey_line
from appliance.commands.run import media_source
from appliance.console import run_console
from appliance.console.autopilot import TypedRun, by_key
from appliance.console.flow import Settings
from appliance.console.sticks import StickWatch
from appliance.errors import EXIT_MEDIA, UsageError
from appliance.formats import write_request
from appliance.hsm import Hsm
from appliance.hsm.profile import DEFAULT_MODULE, profile_from_table
from appliance.model import Verdict
from appliance.signing.pipeline import prepare, sign_plan
from appliance.signing.config import ROOT_KSK_POLICY_TOML, ksk_definition_toml, load_signing_config

TOKEN_LABEL = "ceremony-demo"
KSK_LABEL = "KSK-demo"
PIN = "123456"  # a demo token: the PIN is no secret, and is printed
STICK = "KSR-STICK"
INTRO = (f"\nIn the console: type the UTC time, then the PIN {PIN}, and answer 'yes' at the\n"
         "checks; at the end choose the stick for the log and type 'end' at the closing\n"
         "record (F2/F3 look back). Press Enter to start ... ")


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="a whole ceremony against a throwaway SoftHSM token")
    parser.add_argument("--unattended", action="store_true",
                        help="answer every question automatically (scripts, CI); the same console runs")
    parser.add_argument("--dir", type=Path, metavar="DIR",
                        help="where to make the demo (default: a new temporary directory, kept)")
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Demo:
    directory: Path
    media: Path  # the folder whose subfolders are sticks
    stick: Path
    config: Path
    request: str  # file names on the stick
    previous: str
    trust_anchor: Path  # the demo KSK as a DNSKEY line, for verify-skr --trust-anchor

    @property
    def response(self) -> str:
        return "skr" + self.request[3:]


# Marks a directory as the demo's own, so a second run may clear what the first one made.
MARKER = ".ceremony-demo"
# Everything prepare_demo makes in its directory; nothing else there is touched.
MADE = ("softhsm-tokens", "softhsm2.conf", "ceremony.toml", "media", "ksk-demo.dnskey")


def demo_directory(directory: Path) -> Path:
    """DIR checked before anything is made: new, empty, or a demo's from an earlier run (its token,
    configuration and sticks are then removed and made anew, so running twice equals running once).
    UsageError for a file, or a directory with other contents."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--dir {directory}: not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / MARKER).is_file():
        raise UsageError(f"--dir {directory}: not empty and not made by `ceremony demo`; give a new directory")
    return directory


def prepare_demo(directory: Path, now: datetime | None = None) -> Demo:
    """Token, KSK, configuration, last quarter's request and response, and this quarter's request."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    demo_directory(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by ceremony demo; its contents are replaced by the next run\n", "utf-8")
    for name in MADE:
        made = directory / name
        if made.is_dir() and not made.is_symlink():
            shutil.rmtree(made)
        elif made.exists() or made.is_symlink():
            made.unlink()
    conf = _make_token(directory)
    ksk = _generate_ksk(conf)
    config = directory / "ceremony.toml"
    safefile.write_file(config, _config_text(conf, ksk, now).encode("utf-8"), replace=True)
    # Last quarter began 40 days ago, so this quarter's request starts 30 days from now and ends
    # well inside the 180-day horizon; last quarter's response signed it with the same KSK.
    start = (now - timedelta(days=40)).replace(hour=0, minute=0, second=0)
    previous_request, zsk_keys = synth.generate_request(start)
    request, _ = synth.generate_follow_up(previous_request, zsk_keys)
    previous_response = _sign_previous(config, previous_request)
    stick = directory / "media" / STICK
    stick.mkdir(parents=True, exist_ok=True)
    quarter = f"{request.bundles[0].inception:%Y}-q{(request.bundles[0].inception.month - 1) // 3 + 1}"
    request_name, previous_name = f"ksr-demo-{quarter}-0.xml", f"skr-demo-{quarter}-previous.xml"
    safefile.write_file(stick / request_name, write_request(request), replace=True)
    safefile.write_file(stick / previous_name, previous_response, replace=True)
    anchor = directory / "ksk-demo.dnskey"
    safefile.write_file(anchor, (dnskey_line(ksk, ".") + "\n").encode("utf-8"), replace=True)
    return Demo(directory, directory / "media", stick, config, request_name, previous_name, anchor)


def _make_token(directory: Path) -> Path:
    tokens = directory / "softhsm-tokens"
    tokens.mkdir(exist_ok=True)
    conf = directory / "softhsm2.conf"
    safefile.write_file(conf, f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n".encode(),
                        replace=True)
    try:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL,
                        "--so-pin", secrets.token_hex(8), "--pin", PIN],
                       env={**os.environ, "SOFTHSM2_CONF": str(conf)}, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise UsageError("the demo needs SoftHSM: install the Debian package softhsm2 (make setup does, as root)")
    except subprocess.CalledProcessError as exc:
        raise UsageError(f"softhsm2-util could not make the demo token: {exc.stderr.strip()}") from None
    return conf


def _generate_ksk(conf: Path):
    """A KSK generated inside the token (never outside it), as the DNSKEY it publishes."""
    table = {"module": DEFAULT_MODULE, "token": TOKEN_LABEL, "environment": {"SOFTHSM2_CONF": str(conf)}}
    profile = profile_from_table(table, conf.parent)
    with Hsm(profile, pin_prompt=lambda text: PIN, writable=True) as hsm:
        key = hsm.generate_key(KSK_LABEL, dnssec.RSASHA256)
        return key.dnskey(ttl=172800)


def _config_text(conf: Path, ksk, now: datetime) -> str:
    return f"""# ceremony demo: a throwaway SoftHSM token, NEVER for production.
policy = "root"
default_schema = "normal"

[hsm]
module = "{DEFAULT_MODULE}"
token = "{TOKEN_LABEL}"
# No pin_file: the PIN ({PIN}) is typed at the console, as on the appliance.
[hsm.environment]
SOFTHSM2_CONF = "{conf}"

{ROOT_KSK_POLICY_TOML}
{ksk_definition_toml("current", KSK_LABEL, ksk, now - timedelta(days=365),
                     "generated for this demo inside its SoftHSM token")}"""


def _sign_previous(config_path: Path, request) -> bytes:
    """Last quarter's response, as last quarter's ceremony made it: planned and signed by the signer.

    Last quarter's request has partly expired by now, so it is not put through today's checks.
    """
    config = load_signing_config(config_path)
    with Hsm(config.hsm, pin_prompt=lambda text: PIN) as hsm:
        plan = prepare(config, hsm, request, Verdict(()), None, None)
        if not plan.verdict.valid:
            raise UsageError("demo: last quarter's request cannot be planned: "
                             + "; ".join(str(v) for v in plan.verdict.violations))
        return sign_plan(config, hsm, plan)


def unattended_answers() -> dict:
    """What an operator types in the demo, by question."""
    return {
        "clock.time": lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "clock.confirm": "yes",
        "clock.done": "",
        "hsm.pin": PIN,
        "hsm.seen": "",
        "request.choose": "1",
        "request.previous": "1",
        "request.accepted": "",
        "verbal.confirm": "yes",
        "sign.where": "",
        "sign.done": "",
        "next": "shutdown",
        "shutdown.log.choose": "1",
        "shutdown.done": "end",
    }


def run_unattended(demo: Demo) -> tuple[int, object]:
    """The real console, the autopilot typing the answers through its input."""
    watch = StickWatch()
    with media_source(demo.media, watch) as media:
        return TypedRun(by_key(unattended_answers())).run(Settings(demo.config, None, None), media, watch,
                                                          CeremonyClock(set_system=False))


def run(args) -> int:
    unattended = args.unattended
    if not unattended and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("ceremony demo: no terminal, so running unattended (--unattended)", flush=True)
        unattended = True
    directory = demo_directory(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ceremony-demo-"))
    print(f"Preparing the demo in {directory}: SoftHSM token, KSK, requests ...", flush=True)
    demo = prepare_demo(directory)
    print(f"  HSM:     SoftHSM token {TOKEN_LABEL!r} (SOFTHSM2_CONF={directory / 'softhsm2.conf'}), PIN {PIN}",
          f"  Config:  {demo.config}",
          f"  Stick:   {demo.stick} with {demo.request} and {demo.previous}", sep="\n", flush=True)
    if unattended:
        code, ceremony = run_unattended(demo)
    else:
        input(INTRO)
        watch = StickWatch()
        with media_source(demo.media, watch) as media:
            code, ceremony = run_console(Settings(demo.config, None, None), media, watch,
                                         CeremonyClock(set_system=False))
    return check_outputs(demo, code, ceremony)


def found_on_a_stick(demo: Demo, name: str) -> Path | None:
    """`name` on the demo's stick, or else on the first other stick folder holding it (the
    operators may have typed 'other'), or None."""
    for stick in [demo.stick, *sorted(p for p in demo.media.iterdir() if p != demo.stick)]:
        if (stick / name).is_file():
            return stick / name
    return None


def check_outputs(demo: Demo, code: int, ceremony) -> int:
    """What the console wrote, then the real `ceremony verify-skr` on the response; the exit code:
    the console's when it failed, 4 when the response is on no stick present, else verify-skr's."""
    print(f"\nThe console ended (exit {code}). Requests signed: {ceremony.requests_signed}.")
    for line in ceremony.outputs:
        print(f"  written: {line}")
    response = found_on_a_stick(demo, demo.response)
    log = found_on_a_stick(demo, ceremony.log.filename)
    gone = f"on no stick in {demo.media} (none written, or its stick was removed)"
    print(f"Response: {response or gone}")
    print(f"Log:      {log or gone}")
    if code != 0 or response is None:
        return code or EXIT_MEDIA
    command = [sys.executable, "-m", "appliance.cli", "verify-skr", str(response),
               "--ksr", str(demo.stick / demo.request), "--trust-anchor", str(demo.trust_anchor)]
    print(f"\nChecking it with the real command: ceremony {' '.join(command[3:])}", flush=True)
    return subprocess.run(command, check=False).returncode  # its verdict is the demo's

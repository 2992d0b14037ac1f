"""verify-ksr as a whole process on the real 9-bundle request against its floor, and the policy on
1,000 bundles.

Figures: the cold start (interpreter, imports, parse, every check, report) is what an operator
waits for at the ceremony; its floor is a fresh interpreter that only imports lxml.etree and the
cryptography primitives we use, and the ratio is what our own code costs (goal: 1.25). The
1,000-bundle run shows how the checks scale with request size.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance import synth
from appliance.formats import parse_request, write_request
from appliance.policy import Policy, check_request_bytes, validate_request
from appliance.policy.config import Range
from tests.bench import against_floor, measure

DATA = Path(__file__).resolve().parents[2] / "shared" / "ceremony-data" / "dnssec-keytools"
KSR = DATA / "ksr-root-2017-q2-0.xml"
PREVIOUS = DATA / "skr-root-2017-q1-0.xml"
NOW = "2017-04-01T00:00:00Z"
BUNDLES = 1000
GOAL = 1.25
FLOOR = """
import lxml.etree
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils
"""


def _command() -> list[str]:
    installed = Path(sys.executable).parent / "ceremony"
    return [str(installed)] if installed.exists() else [shutil.which("ceremony") or "ceremony"]


def _permissive(bundles: int) -> Policy:
    """Root policy but for the request's size: as many bundles as generated, any cycle length."""
    keys = (2,) + (1,) * (bundles - 2) + (2,)
    span = Range(timedelta(0), timedelta(days=100 * 366))
    return replace(Policy(), source="bench", bundle_count=bundles, keys_per_bundle=keys, cycle=span,
                   horizon=timedelta(days=100 * 366))


def main() -> None:
    argv = [*_command(), "verify-ksr", str(KSR), "--previous-skr", str(PREVIOUS), "--now", NOW, "--json"]
    check = subprocess.run(argv, capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"verify-ksr refused the real request: {check.stdout}{check.stderr}")
    against_floor("verify-ksr, whole process, real 9-bundle request + previous SKR",
                  lambda: subprocess.run(argv, capture_output=True, check=True),
                  "floor: fresh interpreter importing lxml and cryptography",
                  lambda: subprocess.run([sys.executable, "-c", FLOOR], check=True), goal=GOAL)

    data, previous = KSR.read_bytes(), PREVIOUS.read_bytes()
    now = datetime(2017, 4, 1, tzinfo=UTC)
    measure("parse + all 18 checks in-process, real 9-bundle request",
            lambda: check_request_bytes(data, Policy(), previous, now), repeat=20)

    print(f"  generating a {BUNDLES}-bundle request with fresh ZSKs (not timed)...", flush=True)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    request, _ = synth.generate_request(start, n_bundles=BUNDLES)
    policy = _permissive(BUNDLES)
    verdict = validate_request(request, policy, now=start)
    if not verdict.valid:
        raise RuntimeError(f"the permissive policy refused the generated request: {verdict.violations[:3]}")
    signatures = sum(len(b.signatures) for b in request.bundles)
    measure(f"all request checks in-process, generated {BUNDLES}-bundle request ({signatures} signatures)",
            lambda: validate_request(request, policy, now=start), repeat=3, per=BUNDLES, unit="bundles")
    big = write_request(request)
    # Larger than the 1 MiB cap a ceremony applies, so the cap is raised here, explicitly.
    measure(f"parse + all checks, {BUNDLES}-bundle request ({len(big) // 1024} KiB)",
            lambda: validate_request(parse_request(big, max_size=len(big)), policy, now=start),
            repeat=3, per=BUNDLES, unit="bundles")

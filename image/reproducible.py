"""`make verify-reproducible`: build the image twice, in two separate work directories, and compare
the ISOs byte for byte. On a difference, diffoscope explains it (image/out/diffoscope.txt) and the
command fails.

CEREMONY_PERTURB_SOURCE_DATE_EPOCH=<seconds> gives the second build another SOURCE_DATE_EPOCH than
the lock's, to show that the comparison catches a changed input.
"""
from __future__ import annotations

import os
import subprocess
import sys

from image import build, livebuild, wheels
from image.lockfile import LockError, sha256_file

OUT = build.OUT_DIR
DIFFOSCOPE_TIMEOUT = 30 * 60


def main() -> int:
    isos = [OUT / "reproducible-a.iso", OUT / "reproducible-b.iso"]
    perturbed = os.environ.get("CEREMONY_PERTURB_SOURCE_DATE_EPOCH")
    commit = wheels.git_commit()[0]  # both builds from one commit, however busy the repository
    for number, iso in enumerate(isos):
        work = build.REPO_ROOT / "image" / f"work-reproducible-{'ab'[number]}"
        if number == 1 and perturbed:
            print(f"verify-reproducible: second build with SOURCE_DATE_EPOCH={perturbed} (perturbed)")
            os.environ["SOURCE_DATE_EPOCH"] = perturbed
        try:
            with build.one_build_at_a_time():
                timings = build.build(work, iso, commit)
        except (LockError, livebuild.BuildError) as error:
            print(f"verify-reproducible: build {'ab'[number]} FAILED: {error}", file=sys.stderr)
            return 1
        livebuild.remove_tree(work)
        print(f"verify-reproducible: build {'ab'[number]}: {sum(timings.values()):.0f}s, "
              f"{iso.name} sha256 {sha256_file(iso)}", flush=True)
    if sha256_file(isos[0]) == sha256_file(isos[1]):
        print("verify-reproducible: PASS: the two builds are byte-identical")
        build.report(isos[0], {})
        isos[1].unlink()
        return 0
    report = OUT / "diffoscope.txt"
    print(f"verify-reproducible: FAIL: the two ISOs differ; running diffoscope into {report}", flush=True)
    try:
        subprocess.run(["diffoscope", "--text", str(report), "--timeout", str(DIFFOSCOPE_TIMEOUT - 300),
                        str(isos[0]), str(isos[1])], timeout=DIFFOSCOPE_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"verify-reproducible: diffoscope ran out of time ({DIFFOSCOPE_TIMEOUT}s); partial report kept")
    if report.exists():
        print("".join(report.read_text(errors="replace").splitlines(keepends=True)[:60]))
    return 1


if __name__ == "__main__":
    sys.exit(main())

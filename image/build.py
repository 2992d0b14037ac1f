"""`make image`: the ceremony DVD from the lock. Fills and checks the package cache, builds a local
repository of exactly the locked .debs, runs live-build against it with the lock's SOURCE_DATE_EPOCH,
checks that the image holds only locked packages, and prints the ISO's size, SHA-256 and PGP words.

Options through the environment:
  CEREMONY_IMAGE_CACHE   package cache directory (default image/cache; keep it between builds)
  CEREMONY_VENDOR_DIR    a vendor's PKCS#11 library and HSM profile to add (hook 0550, README)
  SOURCE_DATE_EPOCH      overrides the lock's date: only to show that the build then differs
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from image import livebuild, lockfile, package_cache, wheels
from image.lockfile import Lock, LockError

REPO_ROOT = livebuild.REPO_ROOT
OUT_DIR = REPO_ROOT / "image" / "out"
DEFAULT_ISO = OUT_DIR / "ceremony.iso"


@contextlib.contextmanager
def one_build_at_a_time():
    """Builds share the local repository's fixed path (package_cache.REPOSITORY): one at a time."""
    with open("/var/tmp/ceremony-image.lock", "w") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockError("another image build is running on this machine (/var/tmp/ceremony-image.lock)") from None
        yield


def _source_date_epoch(lock: Lock) -> int:
    override = os.environ.get("SOURCE_DATE_EPOCH")
    if override and int(override) != lock.source_date_epoch:
        print(f"image: WARNING: SOURCE_DATE_EPOCH={override} from the environment overrides the "
              f"lock's {lock.source_date_epoch}: this image will not match the reference build")
        return int(override)
    return lock.source_date_epoch


def _check_contents(lock: Lock, lb_dir: Path) -> None:
    """Every package in the image must be a locked one, in its locked version."""
    locked = {(d.name, d.version) for d in lock.debs}
    strays = sorted(livebuild.installed_packages(lb_dir) - locked)
    if strays:
        raise LockError("the image holds packages that are not in the lock: "
                        + ", ".join(f"{n} {v}" for n, v in strays))


def build(work: Path, iso: Path, commit: str | None = None) -> dict[str, float]:
    """Build the ISO of the appliance at `commit` (default HEAD) into `iso`, using the work directory
    `work`; returns the stage times."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    lock = lockfile.read()
    package_cache.fill(lock)
    repo = package_cache.REPOSITORY
    package_cache.make_repository(lock, repo)
    head, dirty = wheels.git_commit()
    commit = commit or head
    if dirty:
        print(f"image: WARNING: appliance/ has uncommitted changes; the image holds commit {commit}")
    appliance = wheels.build_appliance_wheel(lock, work, commit)
    vendor = os.environ.get("CEREMONY_VENDOR_DIR")
    lb_dir = work / "lb"
    livebuild.prepare(lb_dir, [package_cache.wheel_dir() / w.file_name for w in lock.wheels]
                      + [appliance], Path(vendor) if vendor else None)
    timings["cache and repository"] = time.monotonic() - started
    timings |= livebuild.run(lb_dir, {
        "SOURCE_DATE_EPOCH": str(_source_date_epoch(lock)),
        "CEREMONY_MIRROR": f"file:{repo}",
        "CEREMONY_MIRROR_SECURITY": f"file:{repo}",
        "CEREMONY_SECURITY": "false",
        "CEREMONY_APT_SECURE": "false",
    })
    _check_contents(lock, lb_dir)
    iso.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(lb_dir / livebuild.ISO_NAME, iso)
    print(f"image: appliance commit {commit}, wheel {appliance.name} "
          f"sha256 {lockfile.sha256_file(appliance)}")
    return timings


def report(iso: Path, timings: dict[str, float]) -> None:
    if timings:
        print("image: stage times: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items())
              + f"; total {sum(timings.values()):.0f}s")
    print(f"image: {iso} {iso.stat().st_size} bytes ({iso.stat().st_size / 1e6:.1f} MB)")
    # The same code as `ceremony hash`: the words the ceremony reads aloud to check the DVD.
    subprocess.run([REPO_ROOT / ".venv" / "bin" / "ceremony", "hash", str(iso)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "image" / "work")
    parser.add_argument("--iso", type=Path, default=DEFAULT_ISO)
    parser.add_argument("--commit", help="the appliance commit to put in the image (default HEAD)")
    parser.add_argument("--keep-work", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    try:
        with one_build_at_a_time():
            timings = build(args.work, args.iso, args.commit)
    except (LockError, livebuild.BuildError) as error:
        print(f"image: FAILED: {error}", file=sys.stderr)
        return 1
    if not args.keep_work:
        livebuild.remove_tree(args.work)
    report(args.iso, timings)
    return 0


if __name__ == "__main__":
    sys.exit(main())

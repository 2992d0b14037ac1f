"""`make lock`: build the image once against the Debian archive (trixie and trixie-security) and the
newest allowed wheels, then record every package that build used in image/package-lock.tsv, and
keep the files in the package cache. SOURCE_DATE_EPOCH becomes the time of locking."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from image import build, livebuild, lockfile, package_cache, wheels
from image.lockfile import Deb, Lock

WORK = livebuild.REPO_ROOT / "image" / "work-lock"


def _newer(a: Deb, b: Deb) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a.version, "gt", b.version]).returncode == 0


def collect_debs(cache: Path) -> list[tuple[Deb, Path]]:
    """Every .deb live-build downloaded (bootstrap, chroot and binary stages); where a package came in
    two versions (trixie, then trixie-security), the newer one, which is the one the image holds."""
    newest: dict[tuple[str, str], tuple[Deb, Path]] = {}
    for path in sorted(cache.glob("packages.*/*.deb")):
        name, version, arch = subprocess.run(
            ["dpkg-deb", "--showformat=${Package}\t${Version}\t${Architecture}", "--show", str(path)],
            check=True, capture_output=True, text=True).stdout.split("\t")
        deb = Deb(name, version, arch, lockfile.sha256_file(path))
        known = newest.get((name, arch))
        if known is None or _newer(deb, known[0]):
            newest[(name, arch)] = (deb, path)
    return list(newest.values())


def main() -> int:
    with build.one_build_at_a_time():
        return _lock()


def _lock() -> int:
    epoch = int(time.time())
    image_wheels, build_wheels = wheels.lock_wheels(package_cache.wheel_dir())
    provisional = Lock(epoch, (), tuple(image_wheels), tuple(build_wheels))
    appliance = wheels.build_appliance_wheel(provisional, WORK, wheels.git_commit()[0])
    lb_dir = WORK / "lb"
    livebuild.prepare(lb_dir, [package_cache.wheel_dir() / w.file_name for w in image_wheels]
                      + [appliance], vendor=None)
    timings = livebuild.run(lb_dir, {
        "SOURCE_DATE_EPOCH": str(epoch),
        "CEREMONY_MIRROR": package_cache.ARCHIVE,
        "CEREMONY_MIRROR_SECURITY": package_cache.SECURITY_ARCHIVE,
        "CEREMONY_SECURITY": "true",
        "CEREMONY_APT_SECURE": "true",
    })
    debs = collect_debs(lb_dir / "cache")
    package_cache.deb_dir().mkdir(parents=True, exist_ok=True)
    for deb, path in debs:
        shutil.copy(path, package_cache.deb_dir() / deb.file_name)
    lock = Lock(epoch, tuple(d for d, _ in debs), tuple(image_wheels), tuple(build_wheels))
    lockfile.write(lock)
    print(f"lock: {len(lock.debs)} .deb files, {len(lock.wheels)} image wheels, "
          f"{len(lock.build_wheels)} build wheels, SOURCE_DATE_EPOCH={epoch} -> {lockfile.LOCK_PATH}")
    print("lock: stage times " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    livebuild.remove_tree(WORK)
    return 0


if __name__ == "__main__":
    sys.exit(main())

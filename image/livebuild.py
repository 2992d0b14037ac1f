"""Run live-build on a fresh copy of live-build/ in a work directory, stage by stage, timed."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_SOURCE = REPO_ROOT / "live-build"
ISO_NAME = "live-image-amd64.hybrid.iso"


class BuildError(Exception):
    """live-build failed; the message ends with the tail of its log."""


def remove_tree(path: Path) -> None:
    """rm -rf for a build directory that a failed build may have left with mounts inside (proc, sys,
    dev/pts, the bind-mounted repository): unmount those first, never delete through them."""
    if not path.exists():
        return
    target = str(path.resolve())
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted((p for p in points if p == target or p.startswith(target + "/")),
                        key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=True)
    subprocess.run(["rm", "-rf", "--one-file-system", target], check=True)


def _normalise_modes(config: Path) -> None:
    """A checkout's file modes follow the cloner's umask; the image must not. Includes and hooks get
    0755 directories, 0755 executables, 0644 everything else, owned by root."""
    for path in [config, *config.rglob("*")]:
        if path.is_symlink():
            os.lchown(path, 0, 0)
            continue
        executable = path.is_dir() or path.stat().st_mode & 0o111
        path.chmod(0o755 if executable else 0o644)
        os.chown(path, 0, 0)


def prepare(work: Path, wheels: list[Path], vendor: Path | None) -> None:
    """A clean work directory holding live-build's configuration, the wheels and the vendor files."""
    remove_tree(work)
    work.mkdir(parents=True)
    shutil.copytree(CONFIG_SOURCE / "auto", work / "auto", symlinks=True)
    shutil.copytree(CONFIG_SOURCE / "config", work / "config", symlinks=True)
    (work / "config" / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy(wheel, work / "config" / "wheels" / wheel.name)
    if vendor is not None:
        shutil.copytree(vendor, work / "config" / "vendor", symlinks=True)
    _normalise_modes(work / "config")


def run(work: Path, environment: dict[str, str]) -> dict[str, float]:
    """lb config, bootstrap, chroot, binary; returns each stage's seconds. The log is work/build.log."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "HOME": "/root",
        # mksquashfs runs in the chroot; host extended attributes have no place in the image
        "MKSQUASHFS_OPTIONS": "-no-xattrs",
        **environment,
    }
    timings: dict[str, float] = {}
    log_path = work / "build.log"
    with open(log_path, "ab") as log:
        for stage in ("config", "bootstrap", "chroot", "binary"):
            print(f"live-build: {stage} ...", flush=True)
            started = time.monotonic()
            result = subprocess.run(["lb", stage], cwd=work, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            timings[stage] = time.monotonic() - started
            if result.returncode != 0:
                tail = log_path.read_text(errors="replace").splitlines()[-40:]
                raise BuildError(f"lb {stage} failed (exit {result.returncode}); "
                                 f"log {log_path}, last lines:\n" + "\n".join(tail))
    if not (work / ISO_NAME).exists():
        raise BuildError(f"live-build finished without {work / ISO_NAME}")
    return timings


def installed_packages(work: Path) -> set[tuple[str, str]]:
    """(name, version) of every package in the image, from live-build's dpkg-query record."""
    lines = (work / "chroot.packages.live").read_text().splitlines()
    return {(fields[0].split(":")[0], fields[1]) for fields in (l.split("\t") for l in lines) if len(fields) == 2}

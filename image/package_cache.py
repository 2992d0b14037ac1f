"""The local package cache and the local repository the image is built from.

`fill()` makes sure the cache holds every file of the lock, each checked against its SHA-256;
missing .debs are fetched by exact version from the Debian archive with apt-get (an ordinary,
signature-checking client), missing wheels with pip --require-hashes. A version the archive no
longer has stops the build with the names: keep the cache, or run `make lock`.
`make_repository()` turns the locked .debs into a flat apt repository for live-build's file:// mirror,
so the image can only contain locked packages.
"""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

from image.lockfile import Deb, Lock, LockError, Wheel, check_file

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("CEREMONY_IMAGE_CACHE", REPO_ROOT / "image" / "cache"))
ARCHIVE = "http://deb.debian.org/debian"
SECURITY_ARCHIVE = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SUITE = "trixie"
# live-build bind-mounts a file: mirror into the chroot at its own path and leaves the empty mount
# point behind. A fixed path that no hook empties (and live-build/config/rootfs/excludes keeps out of
# the squashfs) makes the image the same whichever directory the build runs in.
REPOSITORY = Path("/srv/ceremony-image-repo")


def deb_dir() -> Path:
    return CACHE_DIR / "debs"


def wheel_dir() -> Path:
    return CACHE_DIR / "wheels"


def _apt_options() -> list[str]:
    """apt-get options for a private trixie view of the archive that leaves the host's apt alone."""
    root = CACHE_DIR / "apt"
    (root / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (root / "preferences.d").mkdir(exist_ok=True)
    (root / "state" / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (root / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (root / "status").touch()
    (root / "sources.list").write_text(
        f"deb [signed-by={KEYRING}] {ARCHIVE} {SUITE} main\n"
        f"deb [signed-by={KEYRING}] {SECURITY_ARCHIVE} {SUITE}-security main\n"
    )
    settings = {
        "Dir::Etc::SourceList": root / "sources.list",
        "Dir::Etc::SourceParts": root / "sources.list.d",
        "Dir::Etc::PreferencesParts": root / "preferences.d",
        "Dir::State": root / "state",
        "Dir::State::status": root / "status",
        "Dir::Cache": root / "cache",
        "APT::Architecture": "amd64",
        "APT::Architectures": "amd64",
        "Debug::NoLocking": "1",
    }
    return [arg for key, value in settings.items() for arg in ("-o", f"{key}={value}")]


def _fetch_debs(missing: list[Deb]) -> None:
    print(f"cache: fetching {len(missing)} .deb files from {ARCHIVE} ({SUITE}, {SUITE}-security)")
    options = _apt_options()
    subprocess.run(["apt-get", *options, "-qq", "update"], check=True)
    wanted = [d.name if d.arch == "all" else f"{d.name}:{d.arch}" for d in missing]
    result = subprocess.run(
        ["apt-get", *options, "-q", "download", *[f"{w}={d.version}" for w, d in zip(wanted, missing)]],
        cwd=deb_dir(), capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise LockError(
            "the archive no longer offers some locked versions; keep the package cache between "
            "builds, or run `make lock` to move to the archive's current versions:\n" + result.stderr
        )


def _wheel_tags(file_name: str) -> list[str]:
    """pip download options that select exactly this wheel file: the lock's wheels are for the
    image's Python (trixie's 3.13), not for the Python running this script."""
    _, _, python, abi, platform = file_name[: -len(".whl")].split("-", 4)
    if abi == "none" and platform == "any":
        return []
    return ["--implementation", python[:2], "--python-version", f"{python[2]}.{python[3:]}",
            "--abi", abi, *[arg for tag in platform.split(".") for arg in ("--platform", tag)]]


def _fetch_wheels(missing: list[Wheel]) -> None:
    print(f"cache: fetching {len(missing)} wheels from PyPI")
    requirements = wheel_dir() / "requirements.txt"
    for wheel in missing:
        requirements.write_text(f"{wheel.name}=={wheel.version} --hash=sha256:{wheel.sha256}\n")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "--require-hashes", *_wheel_tags(wheel.file_name), "-r", str(requirements),
             "-d", str(wheel_dir())],
            check=True,
        )


def fill(lock: Lock) -> None:
    """Make the cache hold every locked file with its locked SHA-256, or raise LockError."""
    deb_dir().mkdir(parents=True, exist_ok=True)
    wheel_dir().mkdir(parents=True, exist_ok=True)
    missing_debs = [d for d in lock.debs if not (deb_dir() / d.file_name).exists()]
    if missing_debs:
        _fetch_debs(missing_debs)
    missing_wheels = [w for w in lock.wheels + lock.build_wheels if not (wheel_dir() / w.file_name).exists()]
    if missing_wheels:
        _fetch_wheels(missing_wheels)
    for deb in lock.debs:
        check_file(deb_dir() / deb.file_name, deb.sha256)
    for wheel in lock.wheels + lock.build_wheels:
        check_file(wheel_dir() / wheel.file_name, wheel.sha256)
    print(f"cache: {len(lock.debs)} .deb files and "
          f"{len(lock.wheels) + len(lock.build_wheels)} wheels match the lock")


def make_repository(lock: Lock, repo: Path) -> None:
    """A flat apt repository of exactly the locked .debs, dated by the lock, for debootstrap and apt."""
    if repo.exists():
        shutil.rmtree(repo)
    pool = repo / "pool" / "main"
    pool.mkdir(parents=True)
    for deb in lock.debs:
        try:
            os.link(deb_dir() / deb.file_name, pool / deb.file_name)
        except OSError:  # the cache is on another file system
            shutil.copy(deb_dir() / deb.file_name, pool / deb.file_name)
    binary = repo / "dists" / SUITE / "main" / "binary-amd64"
    binary.mkdir(parents=True)
    packages = subprocess.run(
        ["apt-ftparchive", "packages", "pool"], cwd=repo, check=True, capture_output=True
    ).stdout
    (binary / "Packages").write_bytes(packages)
    with gzip.GzipFile(binary / "Packages.gz", "wb", mtime=lock.source_date_epoch) as stream:
        stream.write(packages)
    release = subprocess.run(
        ["apt-ftparchive",
         "-o", f"APT::FTPArchive::Release::Suite={SUITE}",
         "-o", f"APT::FTPArchive::Release::Codename={SUITE}",
         "-o", "APT::FTPArchive::Release::Components=main",
         "-o", "APT::FTPArchive::Release::Architectures=amd64",
         "-o", "APT::FTPArchive::Release::Origin=ceremony-lock",
         "-o", "APT::FTPArchive::Release::Date="
         + subprocess.run(["date", "-R", "-u", "-d", f"@{lock.source_date_epoch}"],
                          check=True, capture_output=True, text=True).stdout.strip(),
         "release", f"dists/{SUITE}"],
        cwd=repo, check=True, capture_output=True,
    ).stdout
    (repo / "dists" / SUITE / "Release").write_bytes(release)

"""The Python side of the image: which of the appliance's dependencies come as wheels (those Debian
does not package), and the appliance's own wheel, built from the committed source tree."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from image import package_cache
from image.lockfile import Lock, Wheel, sha256_file

REPO_ROOT = Path(__file__).resolve().parent.parent

# Dependencies the image takes from trixie (hash-checked through the .deb lock) instead of PyPI.
DEBIAN_PROVIDED = {
    "cryptography": "python3-cryptography",
    "lxml": "python3-lxml",
    "pyudev": "python3-pyudev",
    "prompt-toolkit": "python3-prompt-toolkit",
    "wcwidth": "python3-wcwidth",  # comes with python3-prompt-toolkit
    "asn1crypto": "python3-asn1crypto",  # python-pkcs11's one dependency
    "dnspython": "python3-dnspython",
    "reportlab": "python3-reportlab",
}
# The image's Python: trixie's python3 is 3.13; hook 0510 fails the build if a wheel does not import.
IMAGE_WHEEL_TAGS = ["--implementation", "cp", "--python-version", "3.13", "--abi", "cp313",
                    "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64"]
# What builds the appliance's wheel (newest at `make lock`, then pinned).
BUILD_REQUIREMENTS = ["setuptools"]


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements() -> list[str]:
    """pyproject.toml's dependencies that Debian does not provide, e.g. 'python-pkcs11>=0.10,<0.11'."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = []
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
        if _normalised(name) not in DEBIAN_PROVIDED:
            wanted.append(requirement)
    return wanted


def _download_newest(requirement: str, tags: list[str], dest: Path) -> Wheel:
    before = set(dest.glob("*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", *tags,
         "-d", str(dest), requirement],
        check=True,
    )
    name = _normalised(re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0])
    candidates = [p for p in set(dest.glob("*.whl")) - before
                  if _normalised(p.name.split("-")[0]) == name] or \
                 [p for p in dest.glob("*.whl") if _normalised(p.name.split("-")[0]) == name]
    newest = max(candidates, key=lambda p: p.stat().st_mtime)
    return Wheel(name, newest.name.split("-")[1], newest.name, sha256_file(newest))


def lock_wheels(dest: Path) -> tuple[list[Wheel], list[Wheel]]:
    """Download the newest allowed wheels into dest; returns (image wheels, build wheels)."""
    dest.mkdir(parents=True, exist_ok=True)
    image = [_download_newest(r, IMAGE_WHEEL_TAGS, dest) for r in runtime_requirements()]
    build = [_download_newest(r, [], dest) for r in BUILD_REQUIREMENTS]
    return image, build


def _build_venv(lock: Lock) -> Path:
    """A virtual environment holding exactly the locked build wheels."""
    venv = package_cache.CACHE_DIR / "build-venv"
    marker = venv / "locked-build-wheels"
    wanted = "".join(f"{w.file_name} {w.sha256}\n" for w in lock.build_wheels)
    if not (marker.exists() and marker.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        requirements = venv / "requirements.txt"
        requirements.write_text("".join(f"{package_cache.wheel_dir() / w.file_name} "
                                        f"--hash=sha256:{w.sha256}\n" for w in lock.build_wheels))
        subprocess.run([venv / "bin" / "pip", "install", "-q", "--no-index", "--no-deps",
                        "--require-hashes", "-r", str(requirements)], check=True)
        marker.write_text(wanted)
    return venv


def git_commit() -> tuple[str, bool]:
    """The commit the appliance is built from, and whether the working tree differs from it."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "appliance", "pyproject.toml"],
                           cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout.strip()
    return commit, bool(dirty)


def build_appliance_wheel(lock: Lock, work: Path, commit: str) -> Path:
    """The appliance's wheel, built from a commit (git archive), not from whatever happens to lie in
    the working directory: an auditor's clone of the same commit gets the same file."""
    source = work / "appliance-source"
    out = work / "appliance-wheel"
    for path in (source, out):
        subprocess.run(["rm", "-rf", str(path)], check=True)
        path.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO_ROOT,
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    venv = _build_venv(lock)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(lock.source_date_epoch), "PYTHONHASHSEED": "0"}
    subprocess.run([venv / "bin" / "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(out), str(source)], env=env, check=True)
    (wheel,) = out.glob("appliance-*.whl")
    return wheel

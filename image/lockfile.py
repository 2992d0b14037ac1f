"""The package lock (image/package-lock.tsv): every Debian package and Python wheel of the image,
each with its SHA-256, and the SOURCE_DATE_EPOCH that dates the whole build.

One record a line, tab-separated, so that a review of a lock change reads like a package diff:
    source-date-epoch  <seconds>
    deb    <name>  <version>  <architecture>  <sha256>
    wheel  <name>  <version>  <file name>     <sha256>      (installed into the image)
    build-wheel  <name>  <version>  <file name>  <sha256>    (builds the appliance's own wheel)
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

LOCK_PATH = Path(__file__).resolve().parent / "package-lock.tsv"

HEADER = (
    "# The ceremony DVD's package lock, written by `make lock`, read by `make image`.\n"
    "# Every package of the image with the SHA-256 of its file; change it only with `make lock`.\n"
)


class LockError(Exception):
    """The lock file is missing, malformed, or a file does not match it."""


@dataclass(frozen=True)
class Deb:
    name: str
    version: str
    arch: str
    sha256: str

    @property
    def file_name(self) -> str:
        # apt's own naming of downloaded packages (the epoch's colon is escaped)
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.arch}.deb"


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    file_name: str
    sha256: str


@dataclass(frozen=True)
class Lock:
    source_date_epoch: int
    debs: tuple[Deb, ...]
    wheels: tuple[Wheel, ...]
    build_wheels: tuple[Wheel, ...]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, expected_sha256: str) -> None:
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise LockError(f"{path.name}: SHA-256 {actual} differs from the lock's {expected_sha256}")


def write(lock: Lock, path: Path = LOCK_PATH) -> None:
    lines = [HEADER, f"source-date-epoch\t{lock.source_date_epoch}\n"]
    for deb in sorted(lock.debs, key=lambda d: (d.name, d.arch, d.version)):
        lines.append(f"deb\t{deb.name}\t{deb.version}\t{deb.arch}\t{deb.sha256}\n")
    for kind, wheels in (("wheel", lock.wheels), ("build-wheel", lock.build_wheels)):
        for wheel in sorted(wheels, key=lambda w: w.name):
            lines.append(f"{kind}\t{wheel.name}\t{wheel.version}\t{wheel.file_name}\t{wheel.sha256}\n")
    path.write_text("".join(lines))


def read(path: Path = LOCK_PATH) -> Lock:
    if not path.exists():
        raise LockError(f"{path} does not exist: run `make lock` first")
    epoch = None
    debs: list[Deb] = []
    wheels: list[Wheel] = []
    build_wheels: list[Wheel] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        kind, *fields = line.split("\t")
        if kind == "source-date-epoch" and len(fields) == 1 and fields[0].isdigit():
            epoch = int(fields[0])
        elif kind == "deb" and len(fields) == 4:
            debs.append(Deb(*fields))
        elif kind == "wheel" and len(fields) == 4:
            wheels.append(Wheel(*fields))
        elif kind == "build-wheel" and len(fields) == 4:
            build_wheels.append(Wheel(*fields))
        else:
            raise LockError(f"{path.name}:{number}: not a lock record: {line!r}")
    if epoch is None:
        raise LockError(f"{path.name}: no source-date-epoch record")
    if not debs:
        raise LockError(f"{path.name}: no Debian packages")
    return Lock(epoch, tuple(debs), tuple(wheels), tuple(build_wheels))

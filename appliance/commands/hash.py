"""`ceremony hash FILE` and `ceremony hash --hex DIGEST`: a digest in hex and PGP words."""

from __future__ import annotations

import json
from pathlib import Path

from appliance.digest import Fingerprint
from appliance.errors import UsageError
from appliance.text import shown


def register(subparsers) -> None:
    parser = subparsers.add_parser("hash", help="show a file's SHA-256 in hex and PGP words")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", type=Path, help="file to hash")
    source.add_argument("--hex", metavar="DIGEST", help="render a SHA-256 digest read out elsewhere")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args) -> int:
    if args.hex is not None:
        try:
            fingerprint = Fingerprint.from_hex(args.hex)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        name = None
    else:
        try:
            fingerprint = Fingerprint.of(args.file.read_bytes())
        except OSError as exc:
            raise UsageError(f"cannot read {shown(str(args.file))}: {exc.strerror}") from None
        name = str(args.file)
    if args.json:
        print(json.dumps({"file": name, "sha256": fingerprint.hex, "words": fingerprint.words}))
    else:
        print(fingerprint.render(shown(name) if name else "Digest"))
    return 0

"""`ceremony keys list | generate | export`: the KSKs on the HSM token, a new KSK, and its public forms.

`--config` takes a signing configuration or a bare HSM profile (both have an [hsm] table); with a
signing configuration, `generate` also avoids the key tags of the KSKs it defines, and `export`
takes validFrom/validUntil for the trust-anchor XML from the key's definition.
"""

from __future__ import annotations

import base64
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from appliance import dnssec
from appliance.atomicfile import write_atomically
from appliance.commands.arguments import parse_now
from appliance.errors import UsageError
from appliance.formats.trust_anchor import anchor_from_key, write_trust_anchor_xml
from appliance.hsm import Hsm, HsmKey
from appliance.hsm.profile import HsmProfile, load_profile
from appliance.model import Key
from appliance.settings import read_toml
from appliance.signing.config import DEFAULT_CONFIG, KskDefinition, load_signing_config
from appliance.text import shown

KSK_FLAGS = dnssec.FLAG_ZONE | dnssec.FLAG_SEP
GENERATED_ALGORITHMS = {"RSASHA256": dnssec.RSASHA256, "ECDSAP256SHA256": dnssec.ECDSAP256SHA256}


def register(subparsers) -> None:
    parser = subparsers.add_parser("keys", help="list, generate and export the KSKs on the HSM token")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub):
        sub.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
                         help=f"signing configuration or HSM profile (default {DEFAULT_CONFIG})")
        sub.add_argument("--domain", default=".", help="owner name of the DNSKEY (default the root)")
        sub.set_defaults(handler=run)

    listing = actions.add_parser("list", help="every key on the token: label, id, class, algorithm, size, tag, DS")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    common(listing)
    generate = actions.add_parser("generate", help="a new KSK in the HSM: sensitive, never extractable")
    generate.add_argument("--label", required=True, help="CKA_LABEL of the new key; must be unused")
    generate.add_argument("--algorithm", choices=sorted(GENERATED_ALGORITHMS), default="RSASHA256",
                          help="RSASHA256 (RSA-2048, the default) or ECDSAP256SHA256")
    common(generate)
    export = actions.add_parser("export", help="a KSK's DNSKEY, DS and RFC 7958 trust-anchor XML")
    export.add_argument("label", nargs="?", help="CKA_LABEL of the key (default: the object= of the profile's URI)")
    export.add_argument("--ttl", type=int, default=172800, help="TTL of the DNSKEY line (default 172800)")
    export.add_argument("--xml", type=Path, metavar="FILE", help="write the trust-anchor XML to FILE")
    export.add_argument("--valid-from", metavar="TIME", help="validFrom of the XML (default: the key's definition)")
    common(export)


def _load(path: Path) -> tuple[HsmProfile, dict[str, KskDefinition]]:
    """The HSM profile, and the KSK definitions by HSM label when the file is a signing configuration."""
    document = read_toml(path, "configuration")
    if "keys" in document:
        config = load_signing_config(path)
        return config.hsm, {d.label: d for d in config.keys.values()}
    return load_profile(path), {}


def _dnskey(key: HsmKey, ttl: int = 172800) -> Key:
    return key.dnskey(flags=KSK_FLAGS, ttl=ttl)


def dnskey_line(key: Key, domain: str) -> str:
    public = base64.b64encode(key.public_key).decode("ascii")
    return f"{domain} {key.ttl} IN DNSKEY {key.flags} {key.protocol} {key.algorithm} {public}"


def ds_line(key: Key, domain: str) -> str:
    return f"{domain} IN DS {key.key_tag} {key.algorithm} 2 {dnssec.ds_sha256(key, domain).hex().upper()}"


def run(args) -> int:
    profile, definitions = _load(args.config)
    if profile.pin_source_note:  # on stderr under --json, so stdout stays one JSON object
        print(f"NOTE  {profile.pin_source_note}", file=sys.stderr if getattr(args, "json", False) else sys.stdout)
    writable = args.action == "generate"
    with Hsm(profile, pin_prompt=getpass.getpass, writable=writable) as hsm:
        if not getattr(args, "json", False):
            print("HSM:", *("  " + shown(line, limit=None) for line in hsm.identity.lines()), "", sep="\n")
        if args.action == "list":
            return _list(hsm, args)
        if args.action == "generate":
            return _generate(hsm, args, definitions)
        return _export(hsm, args, definitions)


def _list(hsm: Hsm, args) -> int:
    rows = []
    for key in hsm.keys():
        dnskey = _dnskey(key) if key.public_key is not None and key.algorithms else None
        rows.append({
            "label": key.label, "id": key.id.hex(), "class": key.object_class, "type": key.key_type,
            "size": key.size, "curve": key.curve,
            "algorithm": dnssec.algorithm_name(key.algorithm) if key.algorithm else None,
            "key_tag": dnskey.key_tag if dnskey else None,
            "ds_sha256": dnssec.ds_sha256(dnskey, args.domain).hex().upper() if dnskey else None,
            "sensitive": key.sensitive, "extractable": key.extractable,
            "always_sensitive": key.always_sensitive, "never_extractable": key.never_extractable,
            "private": key.protection, "protection_notes": key.exposure() + key.history(),
        })
    if args.json:
        print(json.dumps({"hsm": hsm.identity.__dict__, "keys": rows}))
        return 0
    if not rows:
        print("no keys on the token")
        return 0
    print(f"{'label':16} {'id':16} {'class':7} {'algorithm':15} {'size':>5} {'tag':>5}  {'private':7}  DS SHA-256")
    for row in rows:
        print(f"{shown(row['label'], limit=40):16} {row['id']:16} {row['class']:7} {row['algorithm'] or row['type']:15} "
              f"{row['size'] or '':>5} {row['key_tag'] if row['key_tag'] is not None else '-':>5}  {row['private']:7}  "
              f"{row['ds_sha256'] or '-'}")
    for row in rows:
        if row["protection_notes"]:
            print(f"{shown(row['label'], limit=40)}: private key {', '.join(row['protection_notes'])}")
    print("\nKey tags and DS are those of the key published as a KSK (flags 257). Private: 'kept' never "
          "leaves the token; 'EXPOSED' can be read out of it (refused for signing); 'once-out' was imported "
          "or once readable.")
    return 0


def _generate(hsm: Hsm, args, definitions: dict[str, KskDefinition]) -> int:
    algorithm = GENERATED_ALGORITHMS[args.algorithm]
    # The token's own keys are avoided in both forms by generate_key; defined KSKs kept on other
    # HSMs are known here only by their tag.
    avoid = frozenset(definition.key_tag for definition in definitions.values())
    key = hsm.generate_key(args.label, algorithm, avoid_key_tags=avoid)
    dnskey = _dnskey(key)
    print(f"Generated {args.label}: {key.key_type} {key.curve or key.size}, id {key.id.hex()}, "
          f"sensitive, not extractable")
    print(dnskey_line(dnskey, args.domain))
    print(ds_line(dnskey, args.domain))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print("\nFor the signing configuration:")
    print(f"[keys.NAME]\nlabel = \"{args.label}\"\nkey_tag = {dnskey.key_tag}\nalgorithm = \"{args.algorithm}\"\n"
          f"size = {key.size}\nds_sha256 = \"{dnssec.ds_sha256(dnskey, args.domain).hex().upper()}\"\n"
          f"valid_from = {now}")
    return 0


def _export(hsm: Hsm, args, definitions: dict[str, KskDefinition]) -> int:
    args.label = args.label or hsm.profile.key_label
    if args.label is None:
        raise UsageError("name the key to export (or give the profile's token URI an object=)")
    key = hsm.find_key(args.label)
    definition = definitions.get(args.label)
    algorithm = definition.algorithm if definition else key.algorithm
    dnskey = key.dnskey(flags=KSK_FLAGS, ttl=args.ttl, algorithm=algorithm, key_identifier=args.label)
    print(dnskey_line(dnskey, args.domain))
    print(ds_line(dnskey, args.domain))
    if args.xml is not None:
        valid_from = parse_now(args.valid_from) if args.valid_from else (definition.valid_from if definition else None)
        if valid_from is None:
            raise UsageError(f"--valid-from is needed: no definition in {args.config} gives key {args.label!r} one")
        if args.xml.exists():
            raise UsageError(f"{args.xml} already exists; not overwritten")
        anchor = anchor_from_key(dnskey, args.domain, valid_from, definition.valid_until if definition else None)
        write_atomically(args.xml, write_trust_anchor_xml([anchor], zone=args.domain))
        print(f"wrote {args.xml}")
    return 0

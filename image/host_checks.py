"""What the host checks in the files the appliance wrote to a stick: the response, with the real
`ceremony verify-skr` and independently with dnspython against the KSK alone; and the log.

Each check raises CheckFailed with a sentence naming what is wrong; each returns a short summary
of what it verified, for the test's output.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from appliance import dnssec
from appliance.ceremonylog import flowing
from appliance.digest import Fingerprint
from appliance.formats import parse_response


class CheckFailed(Exception):
    """A file the appliance wrote is not what it must be."""


def ceremony_command() -> list[str]:
    """The installed `ceremony` beside this Python (the venv's), else the module."""
    script = Path(sys.executable).with_name("ceremony")
    return [str(script)] if script.exists() else [sys.executable, "-m", "appliance.cli"]


def verify_with_cli(response: Path, request: Path, trust_anchor: Path) -> str:
    command = ceremony_command() + ["verify-skr", str(response), "--ksr", str(request),
                                    "--trust-anchor", str(trust_anchor)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise CheckFailed(f"signature invalid: `ceremony verify-skr` exited {done.returncode}:\n"
                          + (done.stdout + done.stderr).strip()[-1500:])
    return f"ceremony verify-skr --ksr --trust-anchor: exit 0"


def ksk_rrset(trust_anchor_line: str) -> dns.rrset.RRset:
    """The KSK from a DNSKEY line (`. TTL IN DNSKEY flags protocol algorithm base64`)."""
    owner, ttl, klass, rtype, *rdata = trust_anchor_line.split()
    return dns.rrset.from_text(owner, int(ttl), klass, rtype, " ".join(rdata))


def verify_with_dnspython(response_data: bytes, ksk: dns.rrset.RRset) -> str:
    """Every RRSIG of every bundle validates over the bundle's DNSKEY RRset with the KSK alone."""
    response = parse_response(response_data)
    if not response.bundles:
        raise CheckFailed("signature invalid: the response has no bundles")
    owner = dns.name.root
    count = 0
    for number, bundle in enumerate(response.bundles, 1):
        if not bundle.signatures:
            raise CheckFailed(f"signature invalid: bundle {number} ({bundle.id}) carries no signature")
        keys = dns.rrset.RRset(owner, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
        for key in bundle.keys:
            wire = dnssec.dnskey_rdata(key)
            keys.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, wire, 0, len(wire)), key.ttl)
        for signature in bundle.signatures:
            wire = dnssec.rrsig_rdata_prefix(signature) + signature.signature_data
            rrsig = dns.rrset.RRset(owner, dns.rdataclass.IN, dns.rdatatype.RRSIG)
            rrsig.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RRSIG, wire, 0, len(wire)),
                      signature.ttl)
            try:
                dns.dnssec.validate(keys, rrsig, {owner: ksk}, now=signature.inception.timestamp() + 1)
            except dns.dnssec.ValidationFailure as error:
                raise CheckFailed(f"signature invalid: dnspython rejects bundle {number} ({bundle.id}), "
                                  f"signature by key tag {signature.key_tag}: {error}") from None
            count += 1
    return f"dnspython: {count} RRSIGs in {len(response.bundles)} bundles valid with the KSK alone"


def check_log(log: str, must_contain: dict[str, str]) -> str:
    """The log holds every expected text (`what -> text`), wherever its 80-column wrapping broke
    the lines (continued rows joined back: `ceremonylog.unwrapped`)."""
    joined = flowing(log)
    missing = [f"{what} ({text!r})" for what, text in must_contain.items() if " ".join(text.split()) not in joined]
    if missing:
        raise CheckFailed("the ceremony log lacks: " + "; ".join(missing))
    return f"log: {len(log.splitlines())} lines, holds {', '.join(must_contain)}"


def fingerprint_lines(data: bytes) -> tuple[str, list[str]]:
    """The hex digest and PGP words the host computes, as the console must show them."""
    fingerprint = Fingerprint.of(data)
    return fingerprint.hex, fingerprint.words

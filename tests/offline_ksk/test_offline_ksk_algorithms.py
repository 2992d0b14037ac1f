"""Algorithms 8, 10, 13, 14 and 15 end to end: a KSK of each imported into SoftHSM signs the Knot
example. request with CDS and CDNSKEY published, in both dialects and under both timing rules;
`verify-skr` accepts the result under that KSK, and dnspython (sharing no code with ours)
validates every RRSIG of the written file."""

from __future__ import annotations

import re
from dataclasses import replace

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.zonefile
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from appliance import cli, dnssec
from appliance.formats.detect import read_request
from appliance.model import Key
from tests.offline_ksk.refdata import OFFLINE_KSK
from tests.softhsm import make_token

pytestmark = pytest.mark.softhsm

KEYS = {
    dnssec.RSASHA256: lambda: rsa.generate_private_key(65537, 2048),
    dnssec.RSASHA512: lambda: rsa.generate_private_key(65537, 2048),
    dnssec.ECDSAP256SHA256: lambda: ec.generate_private_key(ec.SECP256R1()),
    dnssec.ECDSAP384SHA384: lambda: ec.generate_private_key(ec.SECP384R1()),
    dnssec.ED25519: ed25519.Ed25519PrivateKey.generate,
}


def _both_tags(key: Key) -> set[int]:
    """A key's tag in its plain and its revoked form (KSR-KEY-TAGS compares both)."""
    return {dnssec.key_tag(replace(key, flags=key.flags & ~dnssec.FLAG_REVOKE)),
            dnssec.key_tag(replace(key, flags=key.flags | dnssec.FLAG_REVOKE))}


def _request_tags() -> set[int]:
    request = read_request((OFFLINE_KSK / "knot" / "example.ksr.txt").read_bytes())
    return set().union(*(_both_tags(key) for bundle in request.bundles for key in bundle.keys))


def _fresh_ksk(algorithm: int):
    """A new private key whose tags clash with none of the request's keys: a random key does now
    and then (a few in 10,000), and the appliance rightly refuses that (KSR-KEY-TAGS)."""
    taken = _request_tags()
    while True:
        private = KEYS[algorithm]()
        key = Key("", 0, 3600, 257, 3, algorithm, dnssec.dnskey_public_key(private.public_key()))
        if not _both_tags(key) & taken:
            return private


def _config(tmp_path, token, algorithm: int, rules: str, response_format: str) -> tuple:
    private = _fresh_ksk(algorithm)
    pem = tmp_path / "ksk.pem"
    pem.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    token.import_pem(pem, "KSK-ALG", "20")
    public = dnssec.dnskey_public_key(private.public_key())
    key = Key("", 0, 3600, 257, 3, algorithm, public)
    tag = dnssec.key_tag(key)
    ds = dnssec.ds_sha256(key, "example.").hex().upper()
    config = tmp_path / "config.toml"
    config.write_text(f"""policy = "knot-example"
{token.profile_toml()}
[offline_ksk]
rules = "{rules}"
rrsig_lifetime = "P14D"
rrsig_refresh = "P7D"
ksks = ["current"]
cds_cdnskey = ["current"]
cds_digest_types = [2, 4]
end = 2027-05-01T00:00:00Z
response_format = "{response_format}"

[keys.current]
label = "KSK-ALG"
key_tag = {tag}
algorithm = "{dnssec.algorithm_name(algorithm)}"
size = {dnssec.key_size(algorithm, public)}
ds_sha256 = "{ds}"
valid_from = 2026-10-01T00:00:00Z
""")
    anchor = tmp_path / "anchor.txt"
    import base64
    anchor.write_text(f"example. 3600 IN DNSKEY 257 3 {algorithm} {base64.b64encode(public).decode()}\n")
    return config, anchor


def _dnspython_validates(data: bytes) -> int:
    """Every RRSIG of every bundle validates at its bundle's time under the bundle's DNSKEYs."""
    chunks = re.split(rb"^;; SignedKeyResponse 1\.0 (\d+)[^\n]*\n", data, flags=re.M)[1:]
    checked = 0
    origin = dns.name.from_text("example.")
    for token, body in zip(chunks[::2], chunks[1::2]):
        rrsets = dns.zonefile.read_rrsets(body.decode(), origin=dns.name.root, relativize=False, rdclass=None)
        keys = next(r for r in rrsets if r.rdtype == dns.rdatatype.DNSKEY)
        when = int(token) if len(token) == 10 else None
        for rrsig in (r for r in rrsets if r.rdtype == dns.rdatatype.RRSIG):
            covered = next(r for r in rrsets if r.rdtype == rrsig.covers)
            moment = when if when is not None else min(s.inception for s in rrsig) + 3600
            dns.dnssec.validate(covered, rrsig, {origin: keys}, now=moment)
            checked += len(rrsig)
    return checked


@pytest.mark.parametrize("algorithm", sorted(KEYS))
@pytest.mark.parametrize(("rules", "response_format"), [("knot", "request"), ("bind", "bind")])
def test_every_algorithm_signs_end_to_end(tmp_path, capsys, algorithm, rules, response_format):
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    config, anchor = _config(tmp_path, token, algorithm, rules, response_format)
    output = tmp_path / "out.skr.txt"
    ksr = OFFLINE_KSK / "knot" / "example.ksr.txt"
    code = cli.main(["sign", str(ksr), "--output", str(output), "--config", str(config), "--now", "2026-10-25",
                     "--yes"])
    assert code == 0, capsys.readouterr()
    data = output.read_bytes()
    assert data.startswith(b";; SignedKeyResponse 1.0 " + (b"1793491200" if response_format == "request"
                                                           else b"20261101000000"))
    assert b" CDS " in data.replace(b"\t", b" ") and b" CDNSKEY " in data.replace(b"\t", b" ")
    capsys.readouterr()
    code = cli.main(["verify-skr", str(output), "--trust-anchor", str(anchor), "--ksr", str(ksr)])
    assert code == 0, capsys.readouterr()
    assert _dnspython_validates(data) >= 3 * 30  # DNSKEY, CDS and CDNSKEY in every bundle

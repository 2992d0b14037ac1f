"""The real Knot DNS signer's ZSK side takes the appliance's response: `keymgr import-skr` on the
SKR `ceremony sign` made for the Knot root request (TEST KSK 10889 in SoftHSM), then
`keymgr show-offline` lists every bundle as Knot's own response gives it.

Needs keymgr (Debian package `knot`, installed by `make setup` as root and so in CI); bookworm
ships Knot 3.2.6, which reads Unix-seconds headers and verifies every bundle's RRSIGs on import.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from appliance import cli
from tests.offline_ksk.refdata import FIXTURE, OFFLINE_KSK, ROOT_KSKS
from tests.softhsm import make_token

pytestmark = [
    pytest.mark.softhsm,
    pytest.mark.skipif(shutil.which("keymgr") is None, reason="needs keymgr (Debian package knot; make setup as root)"),
]

ZSK_SIDE = """server:
    rundir: "{folder}/run"
database:
    storage: "{folder}/db"
policy:
  - id: zsk-side
    manual: on
    offline-ksk: on
    algorithm: rsasha256
    dnskey-ttl: 172800
    zone-max-ttl: 172800
zone:
  - domain: .
    storage: "{folder}"
    dnssec-signing: on
    dnssec-policy: zsk-side
"""


def keymgr(folder, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["keymgr", "-c", str(folder / "knot.conf"), ".", *args], capture_output=True, text=True,
                          timeout=120)


def zsk_side(folder):
    for sub in ("db", "run"):
        (folder / sub).mkdir(parents=True)
    (folder / "knot.conf").write_text(ZSK_SIDE.format(folder=folder))
    return folder


def test_keymgr_imports_the_appliances_response(tmp_path, capsys, monkeypatch):
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    pem, label, key_id, _ = ROOT_KSKS["knot"]
    token.import_pem(pem, label, key_id)
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    ours = tmp_path / "root.skr.txt"
    code = cli.main(["sign", str(OFFLINE_KSK / "knot/root.ksr.txt"), "--output", str(ours), "--config",
                     str(FIXTURE / "knot-root.toml"), "--now", "2026-10-25", "--yes"])
    assert code == 0, capsys.readouterr()
    version = subprocess.run(["keymgr", "-V"], capture_output=True, text=True).stdout.strip()
    print(f"tool version: {version}")

    ours_side = zsk_side(tmp_path / "ours")
    result = keymgr(ours_side, "import-skr", str(ours))
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stderr
    imported = keymgr(ours_side, "show-offline").stdout
    assert len(re.findall(r"^;; Offline records for \d+", imported, re.M)) == 20

    theirs_side = zsk_side(tmp_path / "theirs")
    assert keymgr(theirs_side, "import-skr", str(OFFLINE_KSK / "knot/root.skr.txt")).returncode == 0
    assert imported == keymgr(theirs_side, "show-offline").stdout  # what Knot stores from its own signer

    # The same keymgr refuses a bad bundle, so the import above is a real check.
    refused = keymgr(zsk_side(tmp_path / "corrupt"), "import-skr", str(OFFLINE_KSK / "knot/root.skr.CORRUPT-sig.txt"))
    assert refused.returncode == 1


def test_keymgr_imports_cds_and_cdnskey_signed_with_ecdsa(tmp_path, capsys, monkeypatch):
    """The example. request signed by a fresh ECDSA P-256 KSK in SoftHSM with CDS and CDNSKEY
    published (Knot's TTL 0): keymgr verifies every RRSIG, over CDS and CDNSKEY too, and stores it all."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from appliance import dnssec
    from appliance.model import Key

    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    private = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "ksk.pem"
    pem.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    token.import_pem(pem, "KSK-EXAMPLE", "30")
    public = dnssec.dnskey_public_key(private.public_key())
    ksk = Key("", 0, 3600, 257, 3, dnssec.ECDSAP256SHA256, public)
    config = tmp_path / "config.toml"
    config.write_text(f"""policy = "knot-example"
{token.profile_toml()}
[offline_ksk]
rules = "knot"
rrsig_lifetime = "P14D"
rrsig_refresh = "P7D"
ksks = ["current"]
cds_cdnskey = ["current"]

[keys.current]
label = "KSK-EXAMPLE"
key_tag = {dnssec.key_tag(ksk)}
algorithm = "ECDSAP256SHA256"
size = 256
ds_sha256 = "{dnssec.ds_sha256(ksk, 'example.').hex().upper()}"
valid_from = 2026-10-01T00:00:00Z
""")
    ours = tmp_path / "example.skr.txt"
    code = cli.main(["sign", str(OFFLINE_KSK / "knot/example.ksr.txt"), "--output", str(ours), "--config", str(config),
                     "--now", "2026-10-25", "--yes"])
    assert code == 0, capsys.readouterr()
    side = tmp_path / "zsk"
    for sub in ("db", "run"):
        (side / sub).mkdir(parents=True)
    (side / "knot.conf").write_text(ZSK_SIDE.format(folder=side).replace("domain: .", "domain: example.")
                                    .replace("rsasha256", "ecdsap256sha256").replace("172800", "3600"))
    run = subprocess.run(["keymgr", "-c", str(side / "knot.conf"), "example.", "import-skr", str(ours)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "OK", run.stderr
    stored = subprocess.run(["keymgr", "-c", str(side / "knot.conf"), "example.", "show-offline"],
                            capture_output=True, text=True, timeout=120).stdout
    assert len(re.findall(r"^;; Offline records for \d+", stored, re.M)) == 34
    assert base64.b64encode(public).decode()[:40] in stored
    assert re.search(r"\t0 CDS \d+ 13 2", stored) and re.search(r"\t0 CDNSKEY 257 3 13", stored)

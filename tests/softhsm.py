"""A throwaway SoftHSM token per test: its own token directory and SOFTHSM2_CONF under tmp_path.

Tests that use it carry the `softhsm` marker. Keys are imported with `softhsm2-util --import`
(tests only: a real KSK is generated inside the HSM and never exists outside it).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from appliance import dnssec
from appliance.hsm import Hsm
from appliance.hsm.profile import HsmProfile, profile_from_table
from appliance.signing.config import ROOT_KSK_POLICY_TOML, ksk_definition_toml

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TEST_KEYS = SHARED / "ceremony-data" / "test-keys"
TEST_KSKS = {  # label -> (PEM, CKA_ID); the legacy responses were signed with these
    "KSK1": (TEST_KEYS / "legacy-KSK1-rsa2048-keytag5017.pem", "01"),
    "KSK2": (TEST_KEYS / "legacy-KSK2-rsa2048-keytag55186.pem", "02"),
}
TOKEN_LABEL = "ceremony-test"
USER_PIN = "123456"
SO_PIN = "12345678"


@dataclass(frozen=True)
class SoftHsmToken:
    directory: Path
    conf: Path
    label: str = TOKEN_LABEL
    pin: str = USER_PIN

    @property
    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.conf)}

    def util(self, *args: str) -> str:
        result = subprocess.run(["softhsm2-util", *args], env={**os.environ, **self.env},
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"softhsm2-util {' '.join(args)} failed: {result.stderr or result.stdout}")
        return result.stdout

    def import_pem(self, pem: Path, label: str, key_id: str) -> None:
        """Import a private key (any PEM form) as a key pair, through PKCS#8 as softhsm2-util wants."""
        key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
        pkcs8 = self.directory / f"import-{label}-{key_id}.p8"
        pkcs8.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
        try:
            self.util("--import", str(pkcs8), "--token", self.label, "--label", label, "--id", key_id,
                      "--pin", self.pin)
        finally:
            pkcs8.unlink()

    def import_test_ksks(self) -> None:
        for label, (pem, key_id) in TEST_KSKS.items():
            self.import_pem(pem, label, key_id)

    def profile_table(self, **extra) -> dict:
        """An `[hsm]` table for this token, the PIN from a file (the test/demo option)."""
        pin_file = self.directory / "pin"
        pin_file.write_text(self.pin + "\n")
        table = {"module": SOFTHSM_MODULE, "token": self.label, "pin_file": str(pin_file),
                 "environment": dict(self.env)}
        table.update(extra)
        return table

    def profile(self, **extra) -> HsmProfile:
        return profile_from_table(self.profile_table(**extra), self.directory)

    def profile_toml(self, **extra) -> str:
        """The same table as TOML text, for configuration files written by tests."""
        table = self.profile_table(**extra)
        lines = ["[hsm]"]
        nested = {k: v for k, v in table.items() if isinstance(v, dict)}
        for name, value in table.items():
            if not isinstance(value, dict):
                lines.append(f"{name} = {_toml_value(value)}")
        for name, value in nested.items():
            lines.append(f"[hsm.{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def make_token(directory: Path, label: str = TOKEN_LABEL, disabled_mechanisms: tuple[str, ...] = (),
               with_test_ksks: bool = True) -> SoftHsmToken:
    """A fresh initialised token in `directory`, optionally holding the TEST KSKs as KSK1 and KSK2.

    `disabled_mechanisms` (e.g. ("CKM_SHA256_RSA_PKCS",)) stand in for an HSM that lacks them.
    """
    # SoftHSM 2.6 skips the first name of a "-" list, hence the empty first entry.
    mechanisms = "-," + ",".join(disabled_mechanisms) if disabled_mechanisms else "ALL"
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
                    f"slots.removable = false\nslots.mechanisms = {mechanisms}\n")
    token = SoftHsmToken(directory, conf, label)
    token.util("--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", token.pin)
    if with_test_ksks:
        token.import_test_ksks()
    return token


def fresh_ksk_config(directory: Path, token: SoftHsmToken, label: str = "KSK-TEST") -> Path:
    """A signing configuration (root policy) whose only KSK, `current`, is generated on the token now."""
    with Hsm(token.profile(), writable=True) as hsm:
        dnskey = hsm.generate_key(label, dnssec.RSASHA256).dnskey()
    path = directory / "fresh.toml"
    path.write_text(f"""policy = "root"
{token.profile_toml()}
{ROOT_KSK_POLICY_TOML}
{ksk_definition_toml("current", label, dnskey, datetime(2017, 1, 1, tzinfo=UTC))}""")
    return path

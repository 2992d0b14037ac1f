"""The package's layout and what each entry point imports (issue 9): rooms of their own, and a
command or the console's first screen loading only what it runs. Each check runs in a fresh
interpreter, since this test process has imported everything already."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.softhsm import SHARED, fresh_ksk_config, make_token

PACKAGE = Path(__file__).resolve().parents[1] / "appliance"
REQUEST = SHARED / "ceremony-data" / "dnssec-keytools" / "ksr-root-2017-q2-0.xml"
PREVIOUS = REQUEST.with_name("skr-root-2017-q1-0.xml")

# Plain data and plumbing; everything else lives in a package of its own.
# closing_record, like report, turns plain data into lines for the console, the log and the printer.
ROOT_MODULES = {"__init__", "ceremonylog", "cli", "clock", "closing_record", "digest", "dnssec", "errors",
                "model", "report", "safefile", "settings", "synth", "text"}


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `statement`."""
    code = f"import sys\n{statement}\nprint(*sorted(sys.modules), sep='\\n')"  # not json: it is checked for
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def under(modules: set[str], *prefixes: str) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


def test_package_root_holds_only_plain_data_and_plumbing():
    assert {p.stem for p in PACKAGE.glob("*.py")} == ROOT_MODULES
    assert {"hsm", "signing", "formats", "policy", "media", "console", "commands"} <= {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def test_only_appliance_hsm_imports_pkcs11():
    importers = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if any(line.startswith(("import pkcs11", "from pkcs11")) or " import pkcs11" in line
                        for line in p.read_text("utf-8").splitlines())}
    assert importers and all(name.startswith("hsm/") for name in importers), importers


def test_console_first_screen_loads_no_hsm_or_signing_code():
    loaded = loaded_after("import appliance.console, appliance.commands.run")
    assert not under(loaded, "appliance.hsm", "appliance.signing", "pkcs11", "asn1crypto")


def test_sign_does_not_load_verify_or_the_network_link():
    loaded = loaded_after("import appliance.cli as cli\ncli.build_parser(['sign'])")
    assert "appliance.commands.sign" in loaded
    assert not under(loaded, "appliance.commands.verify", "appliance.hsm.network_link", "prompt_toolkit")


def test_sign_of_an_icann_request_loads_no_text_dialect_signing():
    """The [offline_ksk] rules and the Knot DNS / BIND 9 planner and writers load only for a text request."""
    loaded = loaded_after("import appliance.cli as cli\ncli.build_parser(['sign'])")
    assert not under(loaded, "appliance.signing.offline_ksk_config", "appliance.signing.offline_ksk_bundles",
                     "appliance.formats.knot", "appliance.formats.bind")


# json (--json), getpass (a PIN typed at a terminal) and the trust-anchor file code (--trust-anchor)
# load when used, not on every start; secrets and hashlib not at all (os.urandom, cryptography's hashes).
@pytest.mark.parametrize("command, unused", [("sign", ("json", "getpass", "secrets", "hashlib")),
                                             ("verify-ksr", ("json", "getpass", "secrets", "hashlib",
                                                             "appliance.formats.trust_anchor")),
                                             ("verify-skr", ("json", "getpass", "secrets", "hashlib",
                                                             "appliance.formats.trust_anchor"))])
def test_commands_load_no_module_only_some_runs_need(command, unused):
    loaded = loaded_after(f"import appliance.cli as cli\ncli.build_parser([{command!r}])")
    assert not under(loaded, *unused)


@pytest.mark.parametrize("command", ["verify-ksr", "verify-skr", "hash"])
def test_commands_without_an_hsm_load_none_of_its_code(command):
    loaded = loaded_after(f"import appliance.cli as cli\ncli.build_parser([{command!r}])")
    assert not under(loaded, "appliance.hsm", "appliance.signing", "pkcs11", "prompt_toolkit", "pyudev")


def test_hsm_profile_and_errors_load_without_pkcs11():
    loaded = loaded_after("import appliance.hsm.profile, appliance.signing.config\n"
                          "from appliance.hsm import HsmPinIncorrect, HsmError")
    assert not under(loaded, "pkcs11", "asn1crypto", "appliance.hsm.session", "appliance.hsm.network_link")


def test_hsm_public_names_load_on_first_use():
    loaded = loaded_after("from appliance.hsm import Hsm, HsmKey, error_for")
    assert {"pkcs11", "appliance.hsm.session", "appliance.hsm.keys"} <= loaded


def test_pkcs11_loads_without_its_unused_asn1crypto_helpers_which_still_work_when_used():
    loaded = loaded_after("from appliance.hsm import Hsm\n"
                          "assert 'asn1crypto' not in sys.modules\n"
                          "from pkcs11.util import rsa, x509\n"
                          "assert callable(rsa.encode_rsa_public_key) and callable(x509.decode_x509_certificate)\n"
                          "import pkcs11.util.ec\n"
                          "assert callable(pkcs11.util.ec.encode_ec_public_key) and callable(pkcs11.util.dh.decode_dh_domain_parameters)")
    assert {"pkcs11", "asn1crypto"} <= loaded


def loaded_after_command(argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter has loaded after running the whole `ceremony ARGV` (exit 0)."""
    code = ("import sys\nfrom appliance.cli import main\ncode = main(sys.argv[1:])\n"
            "print('--modules--', *sorted(sys.modules), sep='\\n', file=sys.stderr)\nsys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})})
    return set(done.stderr.split("--modules--\n", 1)[1].split())


def test_sign_whole_run_loads_no_second_openssl_nor_secrets(tmp_path):
    """The HSM's digests (CKM_RSA_PKCS DigestInfo, ECDSA) use cryptography's hashes, which the checks
    load anyway; a new key's CKA_ID and the output's temporary name come from os.urandom, as
    secrets' would: hashlib (a second OpenSSL), secrets, random's seed and hmac are not loaded."""
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    config = fresh_ksk_config(tmp_path, token)
    loaded = loaded_after_command(["sign", str(REQUEST), "--output", str(tmp_path / "skr.xml"), "--config",
                                   str(config), "--now", "2017-03-25", "--yes"], token.env)
    assert "appliance.hsm.mechanisms" in loaded and (tmp_path / "skr.xml").is_file()
    assert not under(loaded, "hashlib", "_hashlib", "secrets", "hmac")
    assert not under(loaded, "appliance.formats.text_dialects", "dns")  # an ICANN XML request


def test_verify_ksr_of_icann_xml_loads_no_text_dialect_reader():
    """Detecting the format is appliance.formats.detect's; the Knot DNS / BIND 9 reader (and
    dnspython) load only to read a text file."""
    loaded = loaded_after_command(["verify-ksr", str(REQUEST), "--previous-skr", str(PREVIOUS), "--now",
                                   "2017-04-01T00:00:00Z"])
    assert {"appliance.formats.detect", "appliance.policy.chain_checks"} <= loaded
    assert not under(loaded, "appliance.formats.text_dialects", "dns")


@pytest.mark.parametrize("name", ["appliance.policy.context:RequestContext", "appliance.policy.context:ResponseContext",
                                  "appliance.policy.runner:RequestOutcome", "appliance.signing.checks:SigningContext",
                                  "appliance.signing.pipeline:Plan", "appliance.signing.bundles:PlannedBundle",
                                  "appliance.signing.config:SigningConfig", "appliance.hsm.profile:HsmProfile",
                                  "appliance.hsm.token:HsmIdentity"])
def test_what_the_checks_read_is_built_without_comparison_or_repr(name):
    """dataclasses compiles each generated method on every start (about 0.1 ms each on Python 3.11);
    these carry inputs, configurations and results around and are never compared, hashed or printed
    (no generated __eq__, __hash__ or __repr__ of theirs ran in the signer, HSM, formats, policy and
    command tests)."""
    module, _, cls = name.partition(":")
    generated = vars(getattr(importlib.import_module(module), cls))
    assert "__init__" in generated and not {"__eq__", "__repr__"} & set(generated)

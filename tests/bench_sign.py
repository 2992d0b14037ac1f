"""`ceremony sign` as a whole process on the real 9-bundle request against its floor, and signatures
per second via SoftHSM.

Figures: the whole process (interpreter, imports, checks, HSM login, 9 signatures each verified,
the response checked again and written atomically) is what the operators wait for after "yes".
Its floor is the least any program doing the same could take: a fresh interpreter that imports
pkcs11, lxml.etree and the cryptography primitives we use, logs in to the same SoftHSM token and
makes the same nine signatures; the ratio of the two is what our own code costs (goal: 1.25).
The per-signature rates show what the HSM path costs for each mechanism the profile can choose.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from appliance import dnssec
from appliance.hsm import Hsm
from tests.bench import against_floor, measure
from tests.bench_verify import KSR, _command
from tests.softhsm import fresh_ksk_config, make_token

NOW = "2017-03-25"
SIGNATURES = 200
RRSIG_DATA = bytes(range(256)) * 4  # about the size of a root DNSKEY RRset's signed data
GOAL = 1.25
# The floor: what signing nine RRsets needs at the least, in a fresh interpreter (argv: module,
# token label, PIN file, key label).
FLOOR = """
import sys
import lxml.etree
import pkcs11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils
module, label, pin_file, key_label = sys.argv[1:]
token = pkcs11.lib(module).get_token(token_label=label)
with token.open(user_pin=open(pin_file).read().strip()) as session:
    key = session.get_key(pkcs11.ObjectClass.PRIVATE_KEY, label=key_label)
    for n in range(9):
        key.sign(bytes([n]) * 1024, mechanism=pkcs11.Mechanism.SHA256_RSA_PKCS)
"""


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-sign-") as folder:
        root = Path(folder)
        token = make_token(root / "hsm", with_test_ksks=False)
        config = fresh_ksk_config(root, token)
        runs = iter(range(1000))

        def sign_whole_process() -> None:
            output = root / f"skr-{next(runs)}.xml"
            subprocess.run([*_command(), "sign", str(KSR), "--output", str(output), "--config", str(config),
                            "--now", NOW, "--yes"], capture_output=True, check=True)

        table = token.profile_table()
        floor_argv = [sys.executable, "-c", FLOOR, table["module"], table["token"], table["pin_file"], "KSK-TEST"]

        def floor() -> None:
            subprocess.run(floor_argv, capture_output=True, check=True, env={**os.environ, **token.env})

        sign_whole_process()  # fail loudly before timing if the request is refused
        floor()
        against_floor("ceremony sign, whole process, real 9-bundle request (9 RSA-2048 signatures)",
                      sign_whole_process, "floor: fresh interpreter, imports, SoftHSM login, 9 signatures", floor,
                      goal=GOAL)

        for label, options, algorithm in (
            ("RSASHA256, CKM_SHA256_RSA_PKCS", {}, dnssec.RSASHA256),
            ("RSASHA256, CKM_RSA_PKCS + DigestInfo", {"options": {"rsa_mechanism": "RSA_PKCS"}}, dnssec.RSASHA256),
            ("ECDSAP256SHA256, CKM_ECDSA over SHA-256", {}, dnssec.ECDSAP256SHA256),
        ):
            with Hsm(token.profile(**options), writable=True) as hsm:
                name = f"bench-{algorithm}"
                key = hsm.find_key("KSK-TEST") if algorithm == dnssec.RSASHA256 else hsm.generate_key(name, algorithm)

                def burst() -> None:
                    for _ in range(SIGNATURES):
                        hsm.sign(key, RRSIG_DATA, algorithm)

                measure(f"{SIGNATURES} signatures via SoftHSM, {label}", burst, repeat=3,
                        per=SIGNATURES, unit="signatures")

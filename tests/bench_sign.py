"""`ceremony sign` as a whole process on the real 9-bundle request, and signatures per second via SoftHSM.

Figures: the whole process (interpreter, imports, checks, HSM login, 9 signatures each verified,
the response checked again and written atomically) is what the operators wait for after "yes";
the per-signature rates show what the HSM path costs for each mechanism the profile can choose.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from appliance import dnssec
from appliance.hsm import Hsm
from tests.bench import measure
from tests.bench_verify import KSR, _command
from tests.softhsm import fresh_ksk_config, make_token

NOW = "2017-03-25"
SIGNATURES = 200
RRSIG_DATA = bytes(range(256)) * 4  # about the size of a root DNSKEY RRset's signed data


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

        sign_whole_process()  # fail loudly before timing if the request is refused
        measure("ceremony sign, whole process, real 9-bundle request (9 RSA-2048 signatures)",
                sign_whole_process, repeat=5)

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

"""The real Knot DNS and BIND 9 offline-KSK files the tests read (ground truth, read-only)."""

from pathlib import Path

OFFLINE_KSK = Path(__file__).resolve().parents[3] / "shared" / "ceremony-data" / "offline-ksk"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "offline-ksk"
ROOT_KSKS = {  # dialect -> (TEST private key, HSM label, CKA_ID, trust anchor file)
    "knot": (OFFLINE_KSK / "knot" / "TEST-KEY-knot-root-ksk-10889.pem", "KNOT-ROOT-KSK", "10",
             OFFLINE_KSK / "knot" / "root.ksk-10889.dnskey"),
    "bind": (OFFLINE_KSK / "bind" / "TEST-KEY-bind-root-ksk-18635.pem", "BIND-ROOT-KSK", "11",
             OFFLINE_KSK / "bind" / "root.ksk.K.+008+18635.key"),
}
NATIVE_SKRS = {  # SKR -> its KSK's trust anchor
    "knot/root.skr.txt": "knot/root.ksk-10889.dnskey",
    "knot/example.skr.txt": "knot/example.ksk-8599.dnskey",
    "bind/root.skr.txt": "bind/root.ksk.K.+008+18635.key",
    "bind/example.skr.txt": "bind/example.ksk.Kexample.+013+42023.key",
}
CROSS_SKRS = {  # SKR -> (trust anchor, the request it answers)
    "cross/root.knot-ksr.signed-by-bind.skr.txt": ("bind/root.ksk.K.+008+18635.key", "knot/root.ksr.txt"),
    "cross/root.bind-ksr.signed-by-knot-3.5.6.skr.txt": ("knot/root.ksk-10889.dnskey", "bind/root.ksr.txt"),
}
KSRS = {"knot/root.ksr.txt": "knot-root", "knot/example.ksr.txt": "knot-example",
        "bind/root.ksr.txt": "bind-root", "bind/example.ksr.txt": "bind-example"}


def read(name: str) -> bytes:
    return (OFFLINE_KSK / name).read_bytes()

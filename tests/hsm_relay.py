"""A PKCS#11 link that fails on cue, for folder-mode tests: p11-kit's client module runs this as
its transport (`P11_KIT_SERVER_ADDRESS = "|python tests/hsm_relay.py DIR"`), and it relays the
RPC stream both ways to `p11-kit remote <module>` (SoftHSM), as image/hsm_bridge.py does for the
DVD, until the cue file DIR/cue says to fail:

    drop N    the link ends (the client reads EOF) at the next call once N signatures were made:
              at once for N = 0, else at the C_SignInit of signature N + 1
    stall N   the same call is never passed on nor answered: the link goes silent (for STALL
              seconds, then it ends, so a test without a bounded wait fails instead of hanging)

A cue is used once (renamed to cue.used). Every session and every call is written to DIR/relay.log.
Environment: HSM_RELAY_MODULE (the module `p11-kit remote` serves; SoftHSM's by default).
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from image.pkcs11_rpc import CallReader  # noqa: E402

STALL = 180  # seconds a stalled link stays silent: so long that any bounded wait gives up first
MODULE = os.environ.get("HSM_RELAY_MODULE", "/usr/lib/softhsm/libsofthsm2.so")


def cue(folder: Path) -> tuple[str, int] | None:
    try:
        action, count = (folder / "cue").read_text().split()
    except (FileNotFoundError, ValueError):
        return None
    return action, int(count)


def main(folder: Path) -> int:
    log = open(folder / "relay.log", "a", buffering=1)
    log.write(f"session {os.getpid()}\n")
    server = subprocess.Popen(["p11-kit", "remote", MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    reader, signs = CallReader(), 0  # signatures begun: python-pkcs11 sends C_Sign twice (size, then value)
    ours_in, server_out = sys.stdin.buffer.fileno(), server.stdout.fileno()
    try:
        while True:
            ready, _, _ = select.select([ours_in, server_out], [], [])
            if server_out in ready:
                answer = os.read(server_out, 65536)
                if not answer:
                    return 0
                os.write(sys.stdout.buffer.fileno(), answer)
            if ours_in in ready:
                request = os.read(ours_in, 65536)
                if not request:
                    return 0
                for call in reader.feed(request):
                    log.write(f"{call}\n")
                    wanted = cue(folder)
                    if wanted is not None and signs >= wanted[1] and (wanted[1] == 0 or call == "C_SignInit"):
                        (folder / "cue").rename(folder / "cue.used")
                        log.write(f"{wanted[0]} at {call} after {signs} signatures\n")
                        if wanted[0] == "drop":
                            return 0
                        time.sleep(STALL)  # the link open, nothing said; then it ends after all
                        return 0
                    signs += call == "C_SignInit"
                server.stdin.write(request)
                server.stdin.flush()
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))

"""Which PKCS#11 calls pass on a p11-kit RPC stream, read from the client's bytes as they go by,
so a test's link (image/hsm_bridge.py, tests/hsm_relay.py) can fail on cue: after the PIN, or
after the k-th signature.

The stream (p11-kit's rpc-transport.c and rpc-message.h, protocol versions 0 to 2): the client
first sends one byte, its protocol version; then each message is a 12-byte header of three
big-endian 32-bit numbers (a message code, the options' length, the body's length), the options,
and the body, whose first 32-bit number is the call's id in p11-kit's table of calls.
"""
from __future__ import annotations

# From p11-kit's rpc-message.h (the order of its enum is the wire protocol): the calls a test cues on.
CALL_NAMES = {1: "C_Initialize", 2: "C_Finalize", 6: "C_GetTokenInfo", 10: "C_OpenSession",
              11: "C_CloseSession", 18: "C_Login", 19: "C_Logout", 24: "C_GetAttributeValue",
              26: "C_FindObjectsInit", 27: "C_FindObjects", 42: "C_SignInit", 43: "C_Sign"}
HEADER = 12


class CallReader:
    """Fed the client's bytes in any pieces; gives the names of the calls each piece completes."""

    def __init__(self):
        self._buffer = b""
        self._version_seen = False

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        if not self._version_seen and self._buffer:
            self._buffer, self._version_seen = self._buffer[1:], True
        calls = []
        while len(self._buffer) >= HEADER:
            options = int.from_bytes(self._buffer[4:8], "big")
            body = int.from_bytes(self._buffer[8:12], "big")
            end = HEADER + options + body
            if len(self._buffer) < end or body < 4:
                if body < 4 and len(self._buffer) >= end:  # not a call: skip it whole
                    self._buffer = self._buffer[end:]
                    continue
                break
            call = int.from_bytes(self._buffer[HEADER + options:HEADER + options + 4], "big")
            calls.append(CALL_NAMES.get(call, f"call {call}"))
            self._buffer = self._buffer[end:]
        return calls

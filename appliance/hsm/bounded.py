"""The console's HSM session in a child process, so that no HSM call can hold the console forever.

A PKCS#11 call cannot be cancelled: a module whose link to the HSM went silent may block in
C_Sign (or C_Finalize) for ever, and a thread stuck there can neither be stopped nor be followed by
a fresh C_Initialize in the same process. So the session (`appliance.hsm.session.Hsm`) lives in a
process of its own (a fresh interpreter, `python -c`, never a fork of the console's threads), in a
session and process group of its own:

    BoundedHsm.open/keys/find_key/sign/close  --pipe-->  child: Hsm(profile).open/keys/...

Every answer from the child is waited for at most `profile.answer_within` seconds (the time the
operators spend typing the PIN, asked for by the child through the pipe, is not counted). With no
answer in time the whole process group is killed (the module, and any transport it started, such
as p11-kit's `|command`), which closes every connection it had to the HSM, and `HsmNoAnswer` is
raised: whether the HSM carried out the call (made a signature) is unknown, and the caller must
say so. A child that died (a module crashing on a dropped link) raises `HsmDeviceRemoved`.
Either way this BoundedHsm is finished; reconnecting is a new BoundedHsm, a new process and a
fresh C_Initialize, with the PIN typed again.

Keys cross the pipe as `HsmKey` values without their PKCS#11 object; the child signs with its own
object for the same (label, CKA_ID, class).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from dataclasses import replace
from typing import TYPE_CHECKING

from appliance.errors import CeremonyError, HsmError
from appliance.hsm.errors import HsmDeviceRemoved, HsmNoAnswer

if TYPE_CHECKING:
    from appliance.hsm.keys import HsmKey
    from appliance.hsm.profile import HsmProfile
    from appliance.hsm.session import PinPrompt
    from appliance.hsm.token import HsmIdentity

_STOP_WAIT = 5.0  # seconds a child is given to end by itself after close() before it is killed


def _key_ref(key: HsmKey) -> tuple:
    return key.label, key.id, key.object_class


def _portable(exc: BaseException) -> CeremonyError:
    """An exception that crosses the pipe: ours as they are, anything else as an HsmError."""
    if isinstance(exc, CeremonyError) and type(exc).__module__.startswith("appliance."):
        return exc
    return HsmError(f"{type(exc).__name__} in the HSM's process: {exc}")


def child_main(fd: int) -> None:
    """The child's entry point (`python -c`): the profile first, then one call at a time."""
    conn = Connection(fd)
    try:
        profile = conn.recv()
    except (EOFError, OSError):
        return
    _serve(conn, profile)


def _serve(conn, profile: HsmProfile) -> None:
    """One Hsm, its calls taken from the pipe one at a time, until close or EOF."""
    from appliance.hsm.session import Hsm

    def pin_prompt(text: str) -> str:
        conn.send(("pin?", text))
        return conn.recv()

    hsm = Hsm(profile, pin_prompt)
    objects: dict[tuple, HsmKey] = {}

    def shared(key: HsmKey) -> HsmKey:
        objects[_key_ref(key)] = key
        return replace(key, _object=None)

    calls = {
        "open": lambda: (hsm.open(), (hsm.identity, hsm.mechanisms))[1],
        "keys": lambda: [shared(key) for key in hsm.keys()],
        "find_key": lambda label: shared(hsm.find_key(label)),
        "sign": lambda ref, data, algorithm: hsm.sign(objects.get(ref) or hsm.find_key(ref[0]), data, algorithm),
        "close": hsm.close,
    }
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            hsm.close()
            return
        try:
            answer = ("ok", calls[name](*args))
        except BaseException as exc:  # everything goes back to the console, which decides
            answer = ("error", _portable(exc))
        try:
            conn.send(answer)
        except Exception as exc:  # an answer that does not pickle
            conn.send(("error", _portable(exc)))
        if name == "close":
            return


class BoundedHsm:
    """Hsm's interface for the console (open, identity, mechanisms, keys, find_key, sign, close),
    each call answered within `profile.answer_within` seconds or abandoned (see the module text)."""

    def __init__(self, profile: HsmProfile, pin_prompt: PinPrompt | None = None):
        self.profile = profile
        self.limit = profile.answer_within
        self._pin_prompt = pin_prompt
        self._process = None
        self._conn = None
        self.identity: HsmIdentity | None = None
        self.mechanisms: frozenset = frozenset()
        self.ended: str | None = None  # why this session can no longer be used, once it cannot

    @property
    def token_name(self) -> str:
        return self.profile.token.describe()

    def __enter__(self) -> BoundedHsm:
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open(self) -> None:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            # A new session: the child and whatever its module starts (p11-kit's `|command`) are
            # one process group, killed together.
            self._process = subprocess.Popen(
                [sys.executable, "-c", f"from appliance.hsm.bounded import child_main; child_main({theirs.fileno()})"],
                pass_fds=(theirs.fileno(),), start_new_session=True, stdin=subprocess.DEVNULL,
                # What a module prints (python-pkcs11's ignored errors on a dropped link) would be
                # drawn over the console's screen; every failure comes back through the pipe.
                stderr=subprocess.DEVNULL)
            self._conn = Connection(os.dup(ours.fileno()))
        try:
            self._conn.send(self.profile)
            self.identity, self.mechanisms = self._call("open", (), "opening the token and logging in")
        except BaseException:
            self._stop()
            raise

    def keys(self) -> list[HsmKey]:
        return self._call("keys", (), "listing the keys on the token")

    def find_key(self, label: str) -> HsmKey:
        return self._call("find_key", (label,), f"looking for key {label!r}")

    def sign(self, key: HsmKey, data: bytes, algorithm: int) -> bytes:
        return self._call("sign", (_key_ref(key), data, algorithm), f"signing with key {key.label!r}")

    def close(self) -> None:
        """Log out and end the child; a child that does not answer in time is killed. Never raises
        for a session already lost: there is nothing left to release."""
        if self._process is None:
            return
        if self.ended is None:
            try:
                self._call("close", (), "logging out")
            except HsmError:
                pass  # said by _call's caller, if it matters; the process goes below either way
        self._stop()

    def _call(self, name: str, args: tuple, doing: str):
        if self.ended is not None:
            raise HsmDeviceRemoved(f"the session with {self.token_name} is no longer usable ({self.ended})")
        try:
            self._conn.send((name, args))
            while True:
                if not self._conn.poll(self.limit):
                    self._lost(f"no answer within {self.limit:.0f} s while {doing}")
                    raise HsmNoAnswer(f"{self.token_name} gave no answer within {self.limit:.0f} s while {doing}; "
                                      "the call was abandoned and the session ended: whether the HSM carried it "
                                      "out is unknown")
                kind, value = self._conn.recv()
                if kind != "pin?":
                    break
                try:
                    pin = self._pin_prompt(value) if self._pin_prompt is not None else ""
                except BaseException:
                    self._lost("the PIN question ended")
                    raise
                self._conn.send(pin)
        except (EOFError, OSError):
            code = self._process.poll() if self._process is not None else None
            self._lost(f"its process ended while {doing}")
            raise HsmDeviceRemoved(f"the PKCS#11 module for {self.token_name} ended while {doing} "
                                   f"(exit {code}); the session is gone") from None
        if kind == "error":
            raise value
        return value

    def _lost(self, why: str) -> None:
        self.ended = why
        self._stop(at_once=True)

    def _stop(self, at_once: bool = False) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if not at_once:
            try:
                process.wait(_STOP_WAIT)
            except subprocess.TimeoutExpired:
                pass
        try:  # the whole group, even after the child ended: its transport helper may linger
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        if self._conn is not None:
            self._conn.close()

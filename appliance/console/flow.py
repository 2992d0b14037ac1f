"""The ceremony's state machine: which step comes next, and what the steps share.

Each step is a coroutine in its own module taking the Ceremony and returning the next Step. The
order and every possible transition are written down here, in one table, so a reader sees the
whole ceremony at once and a step cannot jump somewhere unplanned:

    CLOCK -> HSM -> REQUEST -> VERBAL -> SIGN -> NEXT -> REQUEST ... or -> SHUTDOWN
                    REQUEST (refused, no request) -> NEXT
                    VERBAL ("no")                 -> NEXT
             HSM (login given up)                 -> SHUTDOWN
    The HSM lost (HSM-NO-ANSWER, HSM-LINK-LOST) in REQUEST or SIGN -> NEXT, where the operators
    type 'reconnect' (a new session) or 'shutdown'.

What went wrong on the way is kept (`Ceremony.fail`) and decides the exit code of `ceremony run`:
the first failure's code (1 refused or aborted, 2 configuration, 3 HSM, 4 media), or 0 when nothing
failed: every request taken up was signed and written, and the final log was written. A failure
made good later (`Ceremony.made_good`: a response written to no stick at first, verified on one at
a later step or the shutdown) stays in the record, said so, but no longer decides the exit code.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.ceremonylog import CeremonyLog
from appliance.clock import CeremonyClock
from appliance.errors import EXIT_OK
from appliance.media import MediaSource, Stick
from appliance.text import shown

if TYPE_CHECKING:  # annotations only: the state machine needs no terminal, HSM or signer to run
    from appliance.console.app import ConsoleUI
    from appliance.console.log_pdf import PaperLog
    from appliance.console.safekeeping import BrokenSigning, Signing
    from appliance.console.sticks import StickWatch
    from appliance.closing_record import ClosingRecord, SignedRequest
    from appliance.hsm import HsmIdentity
    from appliance.hsm.bounded import BoundedHsm
    from appliance.policy.config import Policy
    from appliance.signing.config import SigningConfig
    from appliance.signing.pipeline import Plan


class Step(enum.Enum):
    CLOCK = "Set the clock"
    HSM = "Activate the HSM"
    REQUEST = "Import and check the request"
    VERBAL = "Verbal check of the request hash"
    SIGN = "Sign and write the response"
    NEXT = "Another request, or shut down"
    SHUTDOWN = "Shut down"

    @property
    def heading(self) -> str:
        if self is Step.SHUTDOWN:
            return self.value  # the end, not a numbered step
        return f"Step {list(Step).index(self) + 1} of {len(Step) - 1}: {self.value}"


# Every transition a step may make; anything else is a bug, caught at once.
TRANSITIONS: dict[Step, frozenset[Step]] = {
    Step.CLOCK: frozenset({Step.HSM}),
    Step.HSM: frozenset({Step.REQUEST, Step.SHUTDOWN}),
    Step.REQUEST: frozenset({Step.VERBAL, Step.NEXT}),
    Step.VERBAL: frozenset({Step.SIGN, Step.NEXT}),
    Step.SIGN: frozenset({Step.NEXT}),
    Step.NEXT: frozenset({Step.REQUEST, Step.SHUTDOWN}),
    Step.SHUTDOWN: frozenset(),
}


@dataclass(frozen=True)
class Settings:
    """What `ceremony run` was told on its command line."""

    config: Path | None  # ceremony configuration (HSM profile, KSKs); None: look on the image/stick
    policy: str | None  # request policy file or shipped era name; None: the configuration's
    schema: str | None  # signing schema name; None: the configuration's default
    hsm_attempts: int = 3  # PIN tries before the ceremony gives up (the token may lock sooner)


@dataclass
class Imported:
    """The request in hand: where it came from, its bytes, and what the checks said."""

    stick: Stick
    name: str
    data: bytes
    previous_name: str | None = None
    previous_data: bytes | None = None
    plan: Plan | None = None  # once checked: the bundles to sign, and by which KSKs


@dataclass
class Ceremony:
    """Everything the steps share. Only the steps change it, one at a time."""

    ui: ConsoleUI
    log: CeremonyLog
    clock: CeremonyClock
    media: MediaSource
    settings: Settings
    watch: StickWatch  # wakes a step waiting for a stick
    hsm: BoundedHsm | None = None  # once logged in
    hsm_identity: HsmIdentity | None = None  # once logged in, kept after the log-out for the record
    hsm_state: str = "not connected"
    hsm_lost: str | None = None  # the failure's ID (HSM-NO-ANSWER, HSM-LINK-LOST) while the HSM is lost
    config: SigningConfig | None = None
    policy: Policy | None = None  # the request policy, loaded with the configuration
    current: Imported | None = None
    outputs: list[str] = field(default_factory=list)  # "name on stick", for the closing screen
    signings: list[Signing] = field(default_factory=list)  # each signing, until verified on a stick
    broken_signings: list[BrokenSigning] = field(default_factory=list)  # signings the HSM left part-way
    signed: list[SignedRequest] = field(default_factory=list)  # each response written, for the record
    failures: list[tuple[int, str]] = field(default_factory=list)  # (exit code, what), in order; EXIT_OK: made good
    look_back: list[str] = field(default_factory=list)  # the request's hash and verdicts (F2)
    clock_set: tuple[str, ...] = ()  # how the clock was set, for the closing record
    ended: bool = False  # the operators acknowledged the closing record
    log_written: PaperLog | None = None  # the log as last written to a stick: what 'print N' prints
    closing: ClosingRecord | None = None  # once the ceremony closes: printed before the final log
    step: Step | None = None  # the step running now

    @property
    def may_look_back(self) -> bool:
        """From step 3 on, the log so far may be looked at again (F3)."""
        return self.step not in (None, Step.CLOCK, Step.HSM)

    @property
    def requests_signed(self) -> int:
        return len(self.signed)

    def fail(self, exit_code: int, what: str) -> None:
        """Records what went wrong; the first failure decides the exit code."""
        self.failures.append((exit_code, what))

    def made_good(self, what: str, how: str) -> bool:
        """The earliest outstanding failure recorded as `what` was made good after all (`how`): it
        stays in the record as `what; how` with the code EXIT_OK. False when none is outstanding."""
        for index, (code, recorded) in enumerate(self.failures):
            if code != EXIT_OK and recorded == what:
                self.failures[index] = (EXIT_OK, f"{what}; {how}")
                return True
        return False

    @property
    def exit_code(self) -> int:
        return next((code for code, _ in self.failures if code != EXIT_OK), EXIT_OK)

    def status(self) -> str:
        """The status line: clock, HSM, sticks. Plain words, never colour alone. Once the stick
        watcher has stopped, that comes before the HSM, where no cut can hide it."""
        sticks = ", ".join(shown(s.name, limit=20) for s in self.media.sticks()) or "none"
        clock = f"{self.clock.now():%Y-%m-%d %H:%M:%S} UTC"
        if self.media.failure:
            text = f"{clock} | STICK DETECTION STOPPED | HSM: {self.hsm_state} | Sticks: {sticks}"
        else:
            text = f"{clock} | HSM: {self.hsm_state} | Sticks: {sticks}"
        return cut(text, 78)  # the status line is drawn after one leading space


def cut(text: str, width: int) -> str:
    """`text` within `width` columns; a cut is shown by an ellipsis, never silent."""
    return text if len(text) <= width else text[: width - 3] + "..."


StepFunction = Callable[[Ceremony], Awaitable[Step]]


async def run_ceremony(ceremony: Ceremony, steps: dict[Step, StepFunction]) -> int:
    """Runs steps from CLOCK until SHUTDOWN; returns the exit code of `ceremony run` (see above)."""
    step = Step.CLOCK
    while True:
        ceremony.log.step(step.heading)
        ceremony.step = step
        following = await steps[step](ceremony)
        if step is Step.SHUTDOWN:
            return ceremony.exit_code
        if following not in TRANSITIONS[step]:
            raise RuntimeError(f"{step.name} may not lead to {following.name}")
        step = following

"""The ceremony clock: the operators type the UTC time from a wall clock and the appliance follows it.

The laptop's real-time clock is not trusted (no network, possibly a flat battery), and every date
check in the policy depends on "now". So the typed time wins: as root the system clock is set to
it; otherwise (folder mode on a developer's machine) the appliance keeps an offset and uses
system time plus that offset. A time before the software's own build date is refused: it can only
be a typing error or a dead clock being copied.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The day this version of the software was released. A clock set earlier than this is wrong.
# Bumped with each release; the image build checks it is not later than SOURCE_DATE_EPOCH.
BUILD_DATE = datetime(2026, 11, 27, tzinfo=UTC)

_TYPED = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:z|utc)?\s*$",
    re.IGNORECASE,
)

TYPED_FORMAT = "YYYY-MM-DD HH:MM[:SS]"


class ClockError(ValueError):
    """A typed time that cannot be used; the message tells the operator why."""


def parse_typed_time(text: str, build_date: datetime = BUILD_DATE) -> datetime:
    """The operator's typed UTC time, or ClockError saying what is wrong with it."""
    match = _TYPED.match(text)
    if not match:
        raise ClockError(f"not a time in the form {TYPED_FORMAT} (UTC): {text.strip()!r}")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise ClockError(f"not a valid date or time: {exc}") from None
    if moment < build_date:
        raise ClockError(
            f"{moment:%Y-%m-%d %H:%M:%S} UTC is before this software was built "
            f"({build_date:%Y-%m-%d}); check the date"
        )
    return moment


@dataclass(frozen=True)
class ClockChange:
    old: datetime
    new: datetime
    method: str  # how the new time took effect, for the log

    def describe(self) -> list[str]:
        step = self.new - self.old
        sign = "-" if step < timedelta(0) else "+"
        return [
            f"Old time: {self.old:%Y-%m-%d %H:%M:%S} UTC",
            f"New time: {self.new:%Y-%m-%d %H:%M:%S} UTC",
            f"Step:     {sign}{abs(step).total_seconds():.0f} s",
            f"Method:   {self.method}",
        ]


def _set_system_clock(moment: datetime) -> None:
    time.clock_settime(time.CLOCK_REALTIME, moment.timestamp())


class CeremonyClock:
    """System time plus an offset; the offset stays zero once the system clock itself is set."""

    def __init__(self, set_system: bool = True, setter=_set_system_clock):
        # set_system=False is for development and the demo: never touch the host's clock.
        self.set_system = set_system
        self._setter = setter
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set(self, typed: datetime, typed_at_monotonic: float) -> ClockChange:
        """Take `typed` as the time at the moment it was entered (`time.monotonic()` then).

        The seconds spent confirming are added, so the clock is not left behind by them.
        """
        new = typed + timedelta(seconds=time.monotonic() - typed_at_monotonic)
        old = self.now()
        if self.set_system and os.geteuid() == 0:
            try:
                self._setter(new)
            except OSError as exc:
                self.offset = new - datetime.now(UTC)
                return ClockChange(old, new, f"system clock not settable ({exc.strerror}); "
                                             "the ceremony uses the typed time as an offset")
            self.offset = timedelta(0)
            return ClockChange(old, new, "system clock set (clock_settime)")
        self.offset = new - datetime.now(UTC)
        why = "not root" if self.set_system else "clock setting disabled for this run"
        return ClockChange(old, new, f"{why}: system clock unchanged; the ceremony uses the "
                                     "typed time as an offset")

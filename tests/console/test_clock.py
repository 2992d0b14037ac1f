"""The typed time: accepted forms, refusals, and how the clock follows it without touching the host."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from appliance.clock import BUILD_DATE, CeremonyClock, ClockError, parse_typed_time


@pytest.mark.parametrize("text", ["2027-01-15 14:05", "2027-01-15T14:05:00", "2027-01-15 14:05:00Z",
                                  " 2027-1-15 14:05 UTC ", "2027-01-15t14:05:00z"])
def test_accepted_forms(text):
    assert parse_typed_time(text) == datetime(2027, 1, 15, 14, 5, tzinfo=UTC)


def test_seconds_are_kept():
    assert parse_typed_time("2027-01-15 14:05:42").second == 42


@pytest.mark.parametrize("text", ["", "yesterday", "2027-01-15", "15/01/2027 14:05", "2027-01-15 14:05+01:00",
                                  "2027-01-15 14:05:00 CET"])
def test_unreadable_forms_are_refused(text):
    with pytest.raises(ClockError, match="not a time in the form"):
        parse_typed_time(text)


def test_impossible_dates_are_refused():
    with pytest.raises(ClockError, match="not a valid date"):
        parse_typed_time("2027-02-30 10:00")
    with pytest.raises(ClockError, match="not a valid date"):
        parse_typed_time("2027-01-15 24:00")


def test_time_before_the_build_date_is_refused():
    before = BUILD_DATE - timedelta(seconds=1)
    with pytest.raises(ClockError, match="before this software was built"):
        parse_typed_time(before.strftime("%Y-%m-%d %H:%M:%S"))
    assert parse_typed_time(BUILD_DATE.strftime("%Y-%m-%d %H:%M:%S")) == BUILD_DATE


def test_without_setting_the_system_clock_the_offset_follows_the_typed_time():
    calls = []
    clock = CeremonyClock(set_system=False, setter=calls.append)
    typed = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    change = clock.set(typed, time.monotonic())
    assert calls == []  # the host's clock is never touched
    assert abs((clock.now() - typed).total_seconds()) < 2
    assert change.new == typed or abs((change.new - typed).total_seconds()) < 1
    assert "system clock unchanged" in change.method
    assert any(line.startswith("Old time:") for line in change.describe())


def test_time_spent_confirming_is_added():
    clock = CeremonyClock(set_system=False)
    typed = datetime(2030, 1, 1, tzinfo=UTC)
    change = clock.set(typed, time.monotonic() - 30)  # typed 30 s ago, confirmed now
    assert 29 <= (change.new - typed).total_seconds() <= 31


@pytest.mark.skipif(not hasattr(time, "clock_settime"), reason="no clock_settime on this platform")
def test_as_root_the_setter_is_called_and_the_offset_is_zero(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    calls = []
    clock = CeremonyClock(set_system=True, setter=calls.append)
    typed = datetime.now(UTC) + timedelta(hours=3)
    change = clock.set(typed, time.monotonic())
    assert len(calls) == 1 and abs((calls[0] - typed).total_seconds()) < 1
    assert clock.offset == timedelta(0)
    assert change.method == "system clock set (clock_settime)"


def test_a_refused_clock_setting_falls_back_to_the_offset(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)

    def refuse(moment):
        raise PermissionError(1, "Operation not permitted")

    clock = CeremonyClock(set_system=True, setter=refuse)
    typed = datetime.now(UTC) + timedelta(hours=3)
    change = clock.set(typed, time.monotonic())
    assert "not settable" in change.method
    assert abs((clock.now() - typed).total_seconds()) < 2

"""xsd:dateTime and xsd:duration as KSR/SKR files use them, to and from datetime/timedelta.

Only UTC exists on the appliance: a timestamp without offset (as Verisign's requests write them)
is UTC, "Z" and "+00:00" are UTC, any other offset is refused rather than converted, so that a
request cannot shift its dates by a time-zone trick nobody reads aloud. Durations with years or
months are refused because their length depends on the calendar they are applied to.
Functions raise ValueError with a plain reason; the XML readers add the element and line.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?", re.ASCII
)
_DURATION = re.compile(
    r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(\.\d+)?S)?)?", re.ASCII
)
_UTC_OFFSETS = ("", "Z", "+00:00")
# Far beyond any signature lifetime, small enough that no timedelta arithmetic overflows.
_MAX_DURATION_DAYS = 100 * 366


def parse_datetime(text: str) -> datetime:
    """A timezone-aware UTC datetime from "2017-04-01T00:00:00", "...Z" or "...+00:00"."""
    match = _DATETIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a valid timestamp (want YYYY-MM-DDThh:mm:ss[+00:00])")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if fraction:
        raise ValueError(f"{text!r} has fractional seconds; DNSSEC times are whole seconds")
    if (offset or "") not in _UTC_OFFSETS:
        raise ValueError(f"{text!r} has offset {offset}; only UTC (no offset, Z or +00:00) is accepted")
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=timezone.utc
        )
    except ValueError:
        raise ValueError(f"{text!r} is not a valid timestamp") from None


def format_datetime(moment: datetime, suffix: str = "+00:00") -> str:
    """"2017-04-01T00:00:00" plus `suffix` ("+00:00" as kskm writes, "" as Verisign's requests do)."""
    if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
        raise ValueError(f"{moment!r} is not a UTC datetime")
    if moment.microsecond:
        raise ValueError(f"{moment!r} has fractional seconds")
    # Not strftime: its %Y drops the leading zeros of years before 1000 on glibc.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{suffix}"
    )


def parse_duration(text: str) -> timedelta:
    """A timedelta from an xsd:duration in days, hours, minutes and seconds (P10D, PT0S, P1DT2H)."""
    stripped = text.strip()
    match = _DURATION.fullmatch(stripped)
    if not match or stripped in ("P", "-P") or stripped.endswith("T"):
        raise ValueError(f"{text!r} is not a valid duration (want e.g. P21D, PT0S or P1DT2H)")
    negative, years, months, days, hours, minutes, seconds, fraction = match.groups()
    if years is not None or months is not None:
        raise ValueError(f"{text!r} uses years or months, whose length is ambiguous; use days")
    if negative:
        raise ValueError(f"{text!r} is negative")
    if fraction:
        raise ValueError(f"{text!r} has fractional seconds")
    too_long = ValueError(f"{text!r} is longer than {_MAX_DURATION_DAYS} days")
    if any(len(part or "") > 9 for part in (days, hours, minutes, seconds)):
        raise too_long  # before timedelta() can overflow
    total = timedelta(
        days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0), seconds=int(seconds or 0)
    )
    if total > timedelta(days=_MAX_DURATION_DAYS):
        raise too_long
    return total


def format_duration(delta: timedelta) -> str:
    """The shortest xsd:duration in days/hours/minutes/seconds: P21D, PT0S, P14DT23H59M59S."""
    if delta < timedelta(0) or delta.microseconds:
        raise ValueError(f"{delta!r} is negative or has fractional seconds")
    days = delta.days
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if value)
    if not days and not time:
        return "PT0S"
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")

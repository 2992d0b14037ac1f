"""xsd:dateTime and xsd:duration as the KSR/SKR files use them."""

from datetime import datetime, timedelta, timezone

import pytest

from appliance.formats.timefmt import format_datetime, format_duration, parse_datetime, parse_duration

APRIL = datetime(2017, 4, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2017-04-01T00:00:00", "2017-04-01T00:00:00Z", "2017-04-01T00:00:00+00:00", " 2017-04-01T00:00:00\n"])
def test_utc_forms(text):
    parsed = parse_datetime(text)
    assert parsed == APRIL
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["2017-04-01T02:00:00+02:00", "2017-04-01T00:00:00-00:00", "2017-04-01T00:00:00+0000"])
def test_other_offsets_refused(text):
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_format_datetime_suffixes_and_early_years():
    assert format_datetime(APRIL) == "2017-04-01T00:00:00+00:00"
    assert format_datetime(APRIL, "") == "2017-04-01T00:00:00"
    early = datetime(33, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parse_datetime(format_datetime(early)) == early
    with pytest.raises(ValueError, match="not a UTC datetime"):
        format_datetime(datetime(2017, 4, 1))
    with pytest.raises(ValueError, match="fractional"):
        format_datetime(APRIL.replace(microsecond=1))


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("P10D", timedelta(days=10)),
        ("PT0S", timedelta(0)),
        ("P21D", timedelta(days=21)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT36H", timedelta(hours=36)),
        ("P14DT23H59M59S", timedelta(days=15, seconds=-1)),
        ("P0D", timedelta(0)),
    ],
)
def test_durations(text, delta):
    assert parse_duration(text) == delta


@pytest.mark.parametrize(
    ("text", "reason"),
    [("P1M", "years or months"), ("P1Y2D", "years or months"), ("P0Y", "years or months"), ("PT1.5S", "fractional"),
     ("-P1D", "negative"), ("P", "not a valid"), ("PT", "not a valid"), ("P1W", "not a valid"), ("1D", "not a valid"),
     ("P99999999999D", "longer than"), ("P36700D", "longer than")],
)
def test_bad_durations(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(days=21), timedelta(days=14, hours=23, minutes=59, seconds=59), timedelta(minutes=5), timedelta(seconds=7)])
def test_format_duration_round_trips(delta):
    assert parse_duration(format_duration(delta)) == delta


def test_format_duration_shortest_form():
    assert [format_duration(timedelta(days=d)) for d in (0, 9, 10)] == ["PT0S", "P9D", "P10D"]
    assert format_duration(timedelta(days=1, hours=2)) == "P1DT2H"

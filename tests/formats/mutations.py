"""Hypothesis mutations of real files: byte flips, truncation, deleted or duplicated elements,
near-miss and random attribute and element values."""

import re

from hypothesis import strategies as st

from tests.formats.realfiles import DATA, manifest

ORIGINALS = {row["file"]: ((DATA / row["file"]).read_bytes(), row["type"]) for row in manifest()}
ELEMENT = re.compile(rb"<(\w+)[^>]*?(?:/>|>.*?</\1>)", re.S)
ATTRIBUTE_VALUE = re.compile(rb'="([^"]*)"')
TEXT_VALUE = re.compile(rb">([^<]+)</")
# Values that are near misses for the fields' types, plus anything hypothesis makes up.
TRICKY = st.sampled_from(
    [b"", b"-1", b"65536", b"99999999999999999999999", b"0" * 5000, b"P1M", b"PT", b"P1DT2H3M4S",
     b"2017-02-29T00:00:00", b"0001-01-01T00:00:00", b"9999-12-31T23:59:59+00:00", b"AwEAAQ=", b"&amp;", b"&#0;", b"<", b"]]>"]
)
VALUES = st.one_of(TRICKY, st.binary(max_size=20), st.text(max_size=20).map(lambda text: text.encode("utf-8", "surrogatepass")))


def mutate(data: bytearray, draw) -> bytearray:
    how = draw(st.sampled_from(["flip", "truncate", "delete", "duplicate", "attribute", "text"]))
    if not data:
        return data
    if how == "flip":
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
        return data
    if how == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    pattern = {"delete": ELEMENT, "duplicate": ELEMENT, "attribute": ATTRIBUTE_VALUE, "text": TEXT_VALUE}[how]
    matches = list(pattern.finditer(data))
    if not matches:
        return data
    match = draw(st.sampled_from(matches))
    if how == "delete":
        return data[: match.start()] + data[match.end() :]
    if how == "duplicate":
        return data[: match.end()] + match.group(0) + data[match.end() :]
    return data[: match.start(1)] + draw(VALUES) + data[match.end(1) :]

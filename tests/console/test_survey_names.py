"""Any file name a stick can hold is listed on one row of visible text (no HSM, no terminal)."""

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from appliance.console.app import SCREEN_WIDTH, _fit
from appliance.console.step_request import Survey
from appliance.media import Stick
from appliance.text import shown

# Names as os.listdir gives them: any character but "/" and NUL; bytes that are not UTF-8 arrive
# as surrogateescape characters U+DC80..U+DCFF.
NAME = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",))
               | st.sampled_from([chr(0xDC80 + n) for n in range(128)]), min_size=1, max_size=120)


@given(st.lists(NAME, min_size=1, max_size=4, unique=True), NAME)
def test_every_listed_name_is_one_visible_row(names, label):
    stick = Stick(name="sdb1", label=label, size=8_000_000_000, fs_type="vfat", path=Path("/nonexistent"))
    survey = Survey(requests=[(n, b"<KSR/>") for n in names[:2]], responses=[(n, b"x") for n in names[2:3]],
                    unusable=[(n, "too large\nREQUEST ACCEPTED") for n in names[3:]])
    lines = survey.lines(stick)
    listed = [line for line in lines if line.startswith("    ")]
    assert len(listed) == min(len(names), 3) and all(len(line) <= SCREEN_WIDTH for line in listed)
    assert all(len(line) <= SCREEN_WIDTH for line in lines[:1])  # the stick and its label
    for row in _fit(lines):  # a reason why a file is not used may wrap, under its indentation
        assert shown(row, limit=None) == row and len(row) <= SCREEN_WIDTH

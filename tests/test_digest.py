import json
from datetime import UTC, datetime

import pytest

from appliance.cli import main
from appliance.digest import Fingerprint, _word_lists, pgp_words

FOX = b"The quick brown fox jumps over the lazy dog"


def test_fox_words_start_as_published():
    words = Fingerprint.of(FOX).words
    assert words[:3] == ["stopwatch", "paramount", "watchword"]
    assert len(words) == 32


def test_even_and_odd_offsets_use_different_lists():
    assert pgp_words(b"\x00\x00") == ["aardvark", "adroitness"]
    assert pgp_words(b"\xff\xff") == ["Zulu", "Yucatan"]


def test_hash_command_json(tmp_path, capsys):
    path = tmp_path / "fox.txt"
    path.write_bytes(FOX)
    assert main(["hash", "--json", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sha256"].startswith("d7a8fbb3")
    assert out["words"][:3] == ["stopwatch", "paramount", "watchword"]
    assert out["file"] == str(path)


def test_hash_hex_renders_a_digest_read_elsewhere(capsys):
    digest = Fingerprint.of(FOX).hex
    assert main(["hash", "--hex", digest.upper()]) == 0
    out = capsys.readouterr().out
    # The one layout for reading aloud, as the console shows it: numbered groups, numbered capital words.
    assert "   1:D7A8   2:FBB3" in out and "   1. STOPWATCH" in out and out.rstrip().endswith("32. MISNOMER")


def test_one_layout_for_reading_a_hash_aloud_everywhere():
    from appliance.console.step_verbal import hash_screen

    fingerprint = Fingerprint.of(FOX)
    assert hash_screen(fingerprint, "the request", "x")[2:13] == fingerprint.aloud()
    assert fingerprint.render("t").splitlines()[1:] == fingerprint.aloud()


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, "00" * 31])
def test_hash_hex_refuses_non_digests(bad, capsys):
    assert main(["hash", "--hex", bad]) == 2
    assert "ceremony:" in capsys.readouterr().err


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["hash", str(tmp_path / "absent.xml")]) == 2


def test_the_longest_words_fit_the_logs_rows_whole():
    """The log indents the block by 4 of its 80 columns. Before, an 11-letter word in the fourth
    column (BELOWGROUND, MILLIONAIRE: about one ceremony hash in five has one) ended at column 77,
    so the log carried it to a row of its own: '... 4.' / '  +      BELOWGROUND' (notes/s4rop.md)."""
    from appliance.ceremonylog import CONTINUED, CeremonyLog

    even, odd = _word_lists()
    longest = bytes([max(range(256), key=lambda b: len(even[b])), max(range(256), key=lambda b: len(odd[b]))] * 16)
    fingerprint = Fingerprint(longest)
    assert max(len(row) for row in fingerprint.aloud()) <= 76
    log = CeremonyLog(lambda: datetime(2027, 1, 15, tzinfo=UTC))
    log.screen("Step 4 of 6: Verbal check of the request hash", fingerprint.render("SHA-256 of the request:"))
    rendered = log.render().splitlines()
    assert not [row for row in rendered if row.startswith(CONTINUED)]
    assert "BELOWGROUND" in "\n".join(rendered) and "32. BELOWGROUND" in log.render()

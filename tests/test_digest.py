import json

import pytest

from appliance.cli import main
from appliance.digest import Fingerprint, pgp_words

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

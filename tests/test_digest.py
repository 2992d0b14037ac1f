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
    assert "stopwatch" in out and " 1  " in out


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, "00" * 31])
def test_hash_hex_refuses_non_digests(bad, capsys):
    assert main(["hash", "--hex", bad]) == 2
    assert "ceremony:" in capsys.readouterr().err


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["hash", str(tmp_path / "absent.xml")]) == 2

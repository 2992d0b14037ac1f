from pathlib import Path

import pytest

from appliance.commands.demo import Demo, prepare_demo
from tests.console.harness import Sticks

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "ceremony-data" / "dnssec-keytools"


@pytest.fixture
def demo(tmp_path) -> Demo:
    """What `ceremony demo` makes: a SoftHSM token with a fresh KSK, its configuration (PIN typed),
    and a stick KSR-STICK with this quarter's request and last quarter's response."""
    return prepare_demo(tmp_path / "demo")


@pytest.fixture
def sticks(demo) -> Sticks:
    return Sticks(demo.media)


def real(*names: str) -> dict[str, bytes]:
    """Real ICANN files from ../shared, for a stick."""
    return {name: (DATA / name).read_bytes() for name in names}

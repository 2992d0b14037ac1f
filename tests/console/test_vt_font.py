"""The console's font on the laptop's screen (appliance/console/vt_font.py): Terminus 16x32 when
the framebuffer holds the screens in it, nothing anywhere else."""
import ctypes
import os
import pty

import pytest

from appliance.console import vt_font


@pytest.mark.parametrize(("width", "height", "fits"), [
    (1280, 800, True),    # 80x25
    (1366, 768, True),    # 85x24: the body scrolls one row sooner
    (1920, 1080, True),   # 120x33
    (1920, 1200, True),
    (1024, 768, False),   # 64 columns: the screens are 79 wide, stays 8x16 (128x48)
    (1280, 720, False),   # 22 rows
])
def test_terminus_16x32_only_where_80_columns_and_24_rows_fit(width, height, fits):
    assert vt_font.fits(width, height) is fits


def test_framebuffer_size_from_sysfs(tmp_path):
    size = tmp_path / "virtual_size"
    size.write_text("1920,1080\n")
    assert vt_font.framebuffer_size(size) == (1920, 1080)
    size.write_text("garbage")
    assert vt_font.framebuffer_size(size) is None
    assert vt_font.framebuffer_size(tmp_path / "none") is None


def test_the_kernels_struct_console_font_op():
    # linux/kd.h: five unsigned ints, then the data pointer (aligned on 64-bit).
    assert ctypes.sizeof(vt_font._ConsoleFontOp) == 5 * 4 + (4 if ctypes.sizeof(ctypes.c_void_p) == 8 else 0) \
        + ctypes.sizeof(ctypes.c_void_p)


def test_nothing_happens_on_a_pseudo_terminal_or_a_pipe(tmp_path):
    """tmux, a serial line's getty or a test: not a virtual terminal, so the font is not asked for,
    even where a large framebuffer exists."""
    size = tmp_path / "virtual_size"
    size.write_text("1920,1080\n")
    leader, follower = pty.openpty()
    read_end, write_end = os.pipe()
    try:
        assert vt_font.is_virtual_terminal(follower) is False
        assert vt_font.enlarge(follower, size) is None
        assert vt_font.enlarge(write_end, size) is None
    finally:
        for fd in (leader, follower, read_end, write_end):
            os.close(fd)

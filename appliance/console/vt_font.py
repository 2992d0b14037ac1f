"""A legible font on the laptop's own screen: the Linux console's built-in Terminus 16x32.

The firmware framebuffer runs at the panel's resolution, where the kernel's default 8x16 font
makes the 80x25 screens a quarter (1280x800) or a sixth (1920x1080) of the panel. The Debian
kernel carries Terminus 16x32 (CONFIG_FONT_TER16x32=y), so no font package is needed: the console
asks the kernel for it (ioctl KDFONTOP, KD_FONT_OP_SET_DEFAULT, linux/kd.h) on its own virtual
terminal, when the panel still holds the screens in that font:

    1280x800 -> 80x25    1366x768 -> 85x24    1920x1080 -> 120x33    1024x768 -> too small, 8x16

At least 80 columns (the screens are laid out for 79) and 24 rows (the body scrolls; the title,
prompt and status rows stay). Not a virtual terminal (a serial line, tmux, a test's pipe), or a
text-mode VGA console without framebuffer: nothing happens.
"""

from __future__ import annotations

import ctypes
import fcntl
from pathlib import Path

FONT_NAME = "TER16x32"
FONT_WIDTH, FONT_HEIGHT = 16, 32
MIN_COLUMNS, MIN_ROWS = 80, 24

KDGKBTYPE = 0x4B33  # answers only on a virtual terminal
KDFONTOP = 0x4B72
KD_FONT_OP_SET_DEFAULT = 2
FRAMEBUFFER_SIZE = Path("/sys/class/graphics/fb0/virtual_size")


class _ConsoleFontOp(ctypes.Structure):
    """struct console_font_op (linux/kd.h)."""

    _fields_ = [("op", ctypes.c_uint), ("flags", ctypes.c_uint), ("width", ctypes.c_uint),
                ("height", ctypes.c_uint), ("charcount", ctypes.c_uint), ("data", ctypes.c_void_p)]


def fits(width_px: int, height_px: int) -> bool:
    """Whether a framebuffer of that many pixels holds the screens in Terminus 16x32."""
    return width_px // FONT_WIDTH >= MIN_COLUMNS and height_px // FONT_HEIGHT >= MIN_ROWS


def framebuffer_size(path: Path = FRAMEBUFFER_SIZE) -> tuple[int, int] | None:
    """(width, height) in pixels of the first framebuffer, from sysfs ("1920,1080"); None without one."""
    try:
        width, height = path.read_text().strip().split(",")
        return int(width), int(height)
    except (OSError, ValueError):
        return None


def is_virtual_terminal(fd: int) -> bool:
    try:
        fcntl.ioctl(fd, KDGKBTYPE, bytearray(1))
        return True
    except OSError:
        return False


def enlarge(fd: int, size_path: Path = FRAMEBUFFER_SIZE) -> str | None:
    """Switches the virtual terminal on `fd` to Terminus 16x32 when the framebuffer holds it.

    Returns what was done, for the log ("Terminus 16x32 on a 1920x1080 framebuffer"), or None when
    nothing was (not a virtual terminal, no framebuffer, too small, or the kernel refused: the
    screens then stay in the kernel's default font, as legible as before).
    """
    if not is_virtual_terminal(fd):
        return None
    size = framebuffer_size(size_path)
    if size is None or not fits(*size):
        return None
    name = ctypes.create_string_buffer(FONT_NAME.encode())
    request = _ConsoleFontOp(op=KD_FONT_OP_SET_DEFAULT, data=ctypes.addressof(name))
    try:
        fcntl.ioctl(fd, KDFONTOP, request)
    except OSError:
        return None
    return f"Terminus 16x32 on a {size[0]}x{size[1]} framebuffer"

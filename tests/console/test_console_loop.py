"""A whole ceremony on a real stick: an ext4 (or FAT) image on a loop device, seen through real udev
events, mounted read-only, remounted for the verified write, released. Needs root (marker `root`),
and SoftHSM.

A loop device is not on the USB bus, so, as the media tests do, UdevMedia is given a predicate that
accepts only the loop device backed by this test's own image.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from appliance.clock import CeremonyClock
from appliance.console.autopilot import TypedRun, in_order
from appliance.console.flow import Settings
from appliance.console.sticks import StickWatch
from appliance.formats import parse_request, parse_response
from appliance.formats.trust_anchor import parse_trust_anchors
from appliance.media import UdevMedia
from appliance.policy import validate_response
from tests.console.harness import flat
from tests.console.scripts import (
    ACCEPT_AND_CONFIRM,
    IMPORT_WITH_PREVIOUS,
    LOG_IN,
    SET_CLOCK,
    SHUT_DOWN,
)
from tests.media.test_media_loop import WAIT, Loop, kernel_mounts, on_the_medium, udevd  # noqa: F401 (fixture)

pytestmark = [pytest.mark.root, pytest.mark.softhsm]


def stick_image(tmp_path, files: dict[str, bytes]):
    fs_type = next((fs for fs in ("ext4", "vfat") if kernel_mounts(fs)), None)
    if fs_type is None:
        pytest.fail("the kernel mounts neither ext4 nor vfat")
    image = tmp_path / f"stick-{fs_type}.img"
    with open(image, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    content = tmp_path / "content"
    content.mkdir()
    for name, data in files.items():
        (content / name).write_bytes(data)
    if fs_type == "ext4":
        subprocess.run(["mkfs.ext4", "-q", "-L", "KSR", "-d", str(content), str(image)], check=True)
    else:
        subprocess.run(["mkfs.vfat", "-n", "KSR", str(image)], check=True, capture_output=True)
        for name in files:
            subprocess.run(["mcopy", "-i", str(image), str(content / name), f"::{name}"], check=True)
    return image, fs_type


def wait_until_present(media) -> None:
    deadline = time.monotonic() + WAIT
    while not media.sticks():
        if time.monotonic() > deadline:
            pytest.fail(f"the loop device was not reported as a stick within {WAIT} s")
        time.sleep(0.05)


def test_whole_ceremony_on_a_loop_device(udevd, demo, tmp_path):  # noqa: F811 (fixture)
    files = {name: (demo.stick / name).read_bytes() for name in (demo.request, demo.previous)}
    image, fs_type = stick_image(tmp_path, files)
    loop = Loop(image)
    watch = StickWatch()
    typed = TypedRun(in_order(SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                              + [("sign.where", ""), ("sign.done", "")] + SHUT_DOWN))
    loop.attach()
    try:
        with UdevMedia(mount_root=tmp_path / "media", also_accept=loop.accepts, on_event=watch) as media:
            # The operators insert the stick before step 3 asks; udev may take a while to probe it.
            wait_until_present(media)
            code, ceremony = typed.run(Settings(demo.config, None, None), media, watch,
                                       CeremonyClock(set_system=False))
    finally:
        for mount_point in (tmp_path / "media").glob("*"):
            subprocess.run(["umount", "--lazy", str(mount_point)], capture_output=True, check=False)
        loop.detach()
    assert code == 0 and ceremony.requests_signed == 1
    # Read back from the image itself, not through the appliance's mount.
    response = parse_response(on_the_medium(image, fs_type, demo.response, tmp_path))
    verdict = validate_response(response, parse_trust_anchors(demo.trust_anchor.read_bytes()),
                                parse_request(files[demo.request]))
    assert verdict.valid, verdict.violations
    log = on_the_medium(image, fs_type, ceremony.log.filename, tmp_path).decode()
    assert "REQUEST ACCEPTED" in log and "Written and verified" in ceremony.log.render()
    assert f"{demo.response} on stick loop" in flat(ceremony.log.render())

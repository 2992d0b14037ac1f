"""The watcher thread hands stick events to the console's loop, and outlives it harmlessly."""

import asyncio
import threading
from pathlib import Path

from appliance.console.sticks import StickWatch
from appliance.media import ADDED, Stick, StickEvent

EVENT = StickEvent(ADDED, Stick(name="sdb1", label="KSR", size=1 << 20, fs_type="vfat",
                                path=Path("/run/ceremony/media/sdb1"), device="/dev/sdb1"))


class Present:
    def __init__(self):
        self.list: list[Stick] = []

    def sticks(self):
        return list(self.list)


def test_an_event_from_the_watcher_thread_ends_a_wait():
    watch, media = StickWatch(), Present()

    async def wait_for_a_stick():
        watch.attach()
        waiting = asyncio.create_task(watch.change(media, []))
        await asyncio.sleep(0)

        def insert():
            media.list.append(EVENT.stick)
            watch(EVENT)

        threading.Thread(target=insert).start()
        await asyncio.wait_for(waiting, timeout=5)

    asyncio.run(wait_for_a_stick())


def test_an_event_after_the_console_ended_is_dropped_quietly():
    watch = StickWatch()

    async def console():
        watch.attach()

    asyncio.run(console())  # the loop is closed now, the watcher thread still runs
    watch(EVENT)  # must not raise into the watcher thread

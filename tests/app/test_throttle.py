"""Streamed updates share one budget: many open streams each update less often."""

import time

from cnngru.app import common
from cnngru.app.common import STREAM_INTERVAL, UPDATES_PER_SECOND, Throttle


def test_one_stream_updates_at_the_stream_interval():
    with Throttle() as t:
        assert t.interval == STREAM_INTERVAL
        assert t.ready() and not t.ready()  # the first call, then not again at once


def test_many_open_streams_stretch_every_interval_to_stay_within_the_budget():
    n = 4 * round(UPDATES_PER_SECOND * STREAM_INTERVAL) + 10
    throttles = [Throttle() for _ in range(n)]
    for t in throttles:
        t.__enter__()
    try:
        assert throttles[0].interval == n / UPDATES_PER_SECOND > STREAM_INTERVAL
    finally:
        for t in throttles:
            t.__exit__(None, None, None)
    assert common.Throttle._open == 0 and throttles[0].interval == STREAM_INTERVAL


def test_ready_again_after_the_interval():
    with Throttle(interval=0.01) as t:
        assert t.ready()
        time.sleep(t.interval + 0.01)
        assert t.ready()

"""Counts and durations of what workers do (token refreshes, history syncs), kept where /metrics can read them.

Web and worker are separate processes, often on separate hosts, so a counter in one process's memory is invisible
to the process that answers the scrape. prometheus_client's multiprocess mode shares counters through files in
one directory, which holds only while every process runs on the same host with that directory mounted; the
compose file and any cluster put web and worker in separate containers. The cache is already shared by all of
them (Redis in production, required there), so each event adds to counters there with atomic increments, and the
scrape reads them back in one round trip. Each series is a histogram: how many events fell in each duration
bucket, and the sum of their durations (in microseconds, as increments are integers); its count is the number of
events, so one histogram labelled by outcome also serves as the outcome counter.

A counter lost with the cache (flushed, restarted) starts again from zero, which Prometheus reads as a reset. On
the demo's file cache, increments are not atomic and lapse with the cache's timeout: figures there are indicative.
"""

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache

logger = logging.getLogger(__name__)

KEY_PREFIX = "portal:metrics"


@dataclass(frozen=True)
class HistogramReading:
    labels: tuple[str, ...]
    # (upper bound, events at or below it), cumulative, ending with +Inf.
    buckets: list[tuple[float, int]]
    sum_seconds: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]


@dataclass(frozen=True)
class EventHistogram:
    name: str
    label_names: tuple[str, ...]
    buckets: tuple[float, ...]  # upper bounds in seconds, ascending; +Inf is implied

    def series_key(self, label_values: tuple[str, ...]) -> str:
        return f"{KEY_PREFIX}:{self.name}:{'|'.join(label_values)}"

    def keys(self, label_values: tuple[str, ...]) -> list[str]:
        series = self.series_key(label_values)
        return [*(f"{series}:le:{index}" for index in range(len(self.buckets) + 1)), f"{series}:sum_us"]

    def bucket_index(self, seconds: float) -> int:
        return next((index for index, bound in enumerate(self.buckets) if seconds <= bound), len(self.buckets))

    def record(self, *, seconds: float, **labels: str) -> None:
        """Count one event. Never raises: a cache that is down costs the figure, not the refresh or sync."""
        label_values = tuple(str(labels[name]) for name in self.label_names)
        keys = self.keys(label_values)
        try:
            increment(keys[self.bucket_index(seconds)], 1)
            increment(keys[-1], max(0, round(seconds * 1_000_000)))
        except Exception as error:  # the cache's own errors differ by backend
            logger.warning("Could not record the %s metric: %s", self.name, error.__class__.__name__)

    @contextmanager
    def timed(self, **labels: str) -> Iterator[None]:
        """Record the block's duration with outcome "completed", or "failed" if it raised."""
        started = time.monotonic()
        try:
            yield
        except Exception:
            self.record(seconds=time.monotonic() - started, outcome="failed", **labels)
            raise
        self.record(seconds=time.monotonic() - started, outcome="completed", **labels)


def increment(key: str, delta: int) -> None:
    try:
        cache.incr(key, delta)
    except ValueError:  # not there yet; another process may create it first, then add() refuses and incr() holds
        if not cache.add(key, delta, timeout=None):
            cache.incr(key, delta)


def read_histograms(
    wanted: Iterable[tuple[EventHistogram, Iterable[tuple[str, ...]]]],
) -> dict[str, list[HistogramReading]]:
    """Each histogram's series for the given label values, by histogram name, in one read of the cache."""
    wanted = [(histogram, [tuple(values) for values in label_sets]) for histogram, label_sets in wanted]
    stored = cache.get_many(
        [key for histogram, label_sets in wanted for values in label_sets for key in histogram.keys(values)]
    )
    readings: dict[str, list[HistogramReading]] = {}
    for histogram, label_sets in wanted:
        for values in label_sets:
            *bucket_keys, sum_key = histogram.keys(values)
            cumulative, buckets = 0, []
            for bound, key in zip([*histogram.buckets, float("inf")], bucket_keys, strict=True):
                cumulative += int(stored.get(key) or 0)
                buckets.append((bound, cumulative))
            readings.setdefault(histogram.name, []).append(
                HistogramReading(labels=values, buckets=buckets, sum_seconds=int(stored.get(sum_key) or 0) / 1e6)
            )
    return readings

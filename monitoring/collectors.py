"""The figures /metrics exposes, computed when Prometheus scrapes.

Web processes are several (gunicorn) and workers are others, so nothing here is a counter kept in this process:
states come from the database at scrape time (a few aggregate queries), events that leave no row behind (token
refreshes, sync passes) from the shared counters in broker_portal.event_metrics, queue depth from the broker. A
registry of its own holds only this collector: no process or platform collectors, which would describe whichever
web process answered and name the Python version."""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from broker_portal.event_metrics import HistogramReading, read_histograms
from connectors.exchanges import exchange_packages, history_sources
from connectors.token_refresh import REFRESH_ATTEMPTS, Outcome, credential_is_api_key
from exports.models import ExportJob
from exports.services.sync import HISTORY_SYNC_PASSES

from . import selectors

SYNC_OUTCOMES = ("completed", "failed")


def bound_label(bound: float) -> str:
    return floatToGoString(bound)  # as prometheus_client writes its own buckets: "30.0", "+Inf"


def histogram_family(
    name: str, documentation: str, label_names: tuple[str, ...], readings: list[HistogramReading]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=label_names)
    for reading in readings:
        family.add_metric(
            list(reading.labels), [(bound_label(bound), count) for bound, count in reading.buckets], reading.sum_seconds
        )
    return family


def event_label_sets() -> list[tuple]:
    """Every series the event counters may hold: exchanges that refresh tokens by attempt outcome, and each
    history source's kinds by pass outcome. Unrecorded ones read as zero, so a series exists before its first event."""
    refreshing = [exchange for exchange in exchange_packages() if not credential_is_api_key(exchange)]
    return [
        (REFRESH_ATTEMPTS, [(exchange, outcome) for exchange in refreshing for outcome in Outcome.ATTEMPTED]),
        (
            HISTORY_SYNC_PASSES,
            [
                (source.exchange, kind, outcome)
                for source in history_sources()
                for kind in source.kinds
                for outcome in SYNC_OUTCOMES
            ],
        ),
    ]


class PortalCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self.connection_metrics()
        yield from self.withdrawal_metrics()
        yield from self.export_metrics()
        yield from self.sync_metrics()
        events = read_histograms(event_label_sets())
        yield histogram_family(
            "portal_token_refresh_duration_seconds",
            "Calls to an exchange's token endpoint, by outcome, and how long each took.",
            REFRESH_ATTEMPTS.label_names,
            events.get(REFRESH_ATTEMPTS.name, []),
        )
        yield histogram_family(
            "portal_history_sync_duration_seconds",
            "History sync passes (one kind of one connection), by outcome, and how long each took.",
            HISTORY_SYNC_PASSES.label_names,
            events.get(HISTORY_SYNC_PASSES.name, []),
        )
        yield from self.queue_metrics()

    def connection_metrics(self) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "portal_exchange_connections", "Exchange connections by exchange and status.", labels=["exchange", "status"]
        )
        warned = GaugeMetricFamily(
            "portal_exchange_connections_lapse_warned",
            "Connections whose user was warned that access lapses soon, not renewed since.",
            labels=["exchange"],
        )
        warned_by_exchange: dict[str, int] = {}
        for row in selectors.connection_counts():
            connections.add_metric([row["exchange"], row["status"]], row["connections"])
            warned_by_exchange[row["exchange"]] = warned_by_exchange.get(row["exchange"], 0) + row["lapse_warned"]
        for exchange, count in warned_by_exchange.items():
            warned.add_metric([exchange], count)
        warnings = CounterMetricFamily(
            "portal_token_lapse_warnings",
            "Warnings given that a refresh token is about to lapse (renewals kept failing), by exchange.",
            labels=["exchange"],
        )
        for row in selectors.lapse_warning_counts():
            warnings.add_metric([row["exchange"] or ""], row["warnings"])
        yield from (connections, warned, warnings)

    def withdrawal_metrics(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "portal_withdrawals", "Withdrawals by exchange and state.", labels=["exchange", "state"]
        )
        for row in selectors.withdrawal_counts():
            family.add_metric([row["exchange"], row["state"]], row["withdrawals"])
        yield family

    def export_metrics(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "portal_export_jobs",
            "Export jobs by format and status (failed ones are failures).",
            labels=["format", "status"],
        )
        durations = HistogramMetricFamily(
            "portal_export_duration_seconds",
            "Finished export jobs (done or failed), from start to finish.",
            labels=["format", "status"],
        )
        for row in selectors.export_job_counts():
            jobs.add_metric([row["format"], row["status"]], row["jobs"])
            if row["status"] in (ExportJob.Status.DONE, ExportJob.Status.FAILED) and row["timed"]:
                buckets = [(bound_label(bound), row[f"le_{bound}"]) for bound in selectors.EXPORT_DURATION_BUCKETS]
                durations.add_metric(
                    [row["format"], row["status"]],
                    [*buckets, (bound_label(float("inf")), row["timed"])],
                    row["duration_sum"].total_seconds(),
                )
        yield from (jobs, durations)

    def sync_metrics(self) -> Iterator[Metric]:
        states = GaugeMetricFamily(
            "portal_history_sync_states",
            "History sync states (one per connection and kind).",
            labels=["exchange", "kind"],
        )
        failing = GaugeMetricFamily(
            "portal_history_sync_failing", "History sync states whose last pass failed.", labels=["exchange", "kind"]
        )
        for row in selectors.sync_state_counts():
            states.add_metric([row["exchange"], row["kind"]], row["states"])
            failing.add_metric([row["exchange"], row["kind"]], row["failing"])
        yield from (states, failing)

    def queue_metrics(self) -> Iterator[Metric]:
        depths = selectors.queue_depths()
        if depths is None:  # left out rather than reported as zero: an empty queue and a lost broker differ
            return
        family = GaugeMetricFamily(
            "portal_celery_queue_messages", "Tasks waiting in each Celery queue.", labels=["queue"]
        )
        for queue, count in depths.items():
            family.add_metric([queue], count)
        yield family


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(PortalCollector())

"""The webhook benchmark's core with a tiny N, so it keeps working (its figures live in bench/README.md)."""

import pytest

from bench.webhooks.core import CountingReceiver, bare, in_process, through_celery

pytestmark = pytest.mark.django_db(transaction=True)


def test_benchmark_core_runs_every_measurement(settings):
    settings.WEBHOOK_DRAIN_SECONDS = 60
    receiver = CountingReceiver()
    try:
        # Two queries per delivery and a turn's few: well under the first version's eight each.
        assert in_process(n=4, receiver=receiver)["queries_per_delivery"] < 6
        assert through_celery(n=2, endpoints=2, receiver=receiver)["deliveries"] == 4
        assert bare(n=4, receiver=receiver)["per_second"] > 0
        assert receiver.count == 12
    finally:
        receiver.close()

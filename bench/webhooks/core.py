"""Deliveries per second to a local receiver: the delivery path alone (one endpoint, one worker's loop), the
whole path through Celery (events committed, one solo worker), and a bare signed ``requests`` loop as the floor.
Assumes Django is set up and the database migrated; ``bench/webhooks/__main__.py`` arranges both."""

import secrets
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from standardwebhooks import Webhook

from broker_portal import services as portal_services
from broker_portal.celery import app
from webhooks import delivery, services
from webhooks.models import WebhookDelivery

PAYLOAD = {"connection_id": 1, "user_id": 1, "exchange": "kucoin", "server": "", "permissions": ["General"]}


class CountingReceiver:
    """Answers 204 to every POST at once, and counts them."""

    def __init__(self):
        self.count = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a receiver behind a load balancer would

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    receiver.count += 1
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def bench_tenant():
    slug = f"bench-webhooks-{secrets.token_hex(4)}"
    return portal_services.tenant_create(name="Webhooks bench", slug=slug, hosts=[f"{slug}.localhost"])


def record(tenant, n: int) -> float:
    started = time.perf_counter()
    with transaction.atomic():
        for _ in range(n):
            services.event_record(tenant=tenant, type="connection.connected", payload=PAYLOAD)
    return time.perf_counter() - started


def in_process(*, n: int, receiver: CountingReceiver) -> dict:
    """One endpoint, its due deliveries sent by ``endpoint_deliver_due`` as a worker's task does, until none is
    left: the delivery path without the queue."""
    tenant = bench_tenant()
    endpoint, _ = services.endpoint_create(tenant=tenant, url=receiver.url)
    recorded = record(tenant, n)
    before = receiver.count
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        while WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").exists():
            delivery.endpoint_deliver_due(endpoint_id=endpoint.pk)
        seconds = time.perf_counter() - started
    assert (
        receiver.count - before == n
        and not WebhookDelivery.objects.filter(endpoint=endpoint).exclude(status="succeeded").exists()
    )
    return {
        "seconds": round(seconds, 3),
        "per_second": round(n / seconds, 1),
        "queries_per_delivery": round(len(queries) / n, 2),
        "recorded_per_second": round(n / recorded, 1),
    }


def through_celery(*, n: int, endpoints: int, receiver: CountingReceiver) -> dict:
    """``endpoints`` endpoints of one tenant, n events each committed at once; one solo worker in this process
    delivers them all. Seconds from the commit to the last delivery's success."""
    tenant = bench_tenant()
    made = [services.endpoint_create(tenant=tenant, url=receiver.url)[0] for _ in range(endpoints)]
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
    ):
        started = datetime.now(UTC)
        record(tenant, n)
        rows = WebhookDelivery.objects.filter(endpoint__in=made)
        deadline = time.monotonic() + 600
        while rows.filter(status="succeeded").count() < n * endpoints and time.monotonic() < deadline:
            time.sleep(0.25)
    total = n * endpoints
    if rows.filter(status="succeeded").count() < total:
        raise RuntimeError("the worker did not deliver everything in time")
    seconds = (rows.aggregate(last=Max("succeeded_at"))["last"] - started).total_seconds()
    return {"seconds": round(seconds, 3), "per_second": round(total / seconds, 1), "deliveries": total}


def bare(*, n: int, receiver: CountingReceiver) -> dict:
    """The floor: the same signed POSTs from one ``requests`` session in a loop, no database."""
    secret = services.new_secret()
    session = requests.Session()
    body = '{"data":{},"timestamp":"2026-01-01T00:00:00Z","type":"connection.connected"}'
    started = time.perf_counter()
    for _ in range(n):
        now = datetime.now(UTC)
        webhook_id = services.new_webhook_id()
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
            "content-type": "application/json",
        }
        response = session.post(receiver.url, data=body.encode(), headers=headers, timeout=10)
        assert 200 <= response.status_code < 300
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "per_second": round(n / seconds, 1)}


@contextmanager
def long_turns():
    # One turn drains an endpoint: the benchmark measures delivering, not taking turns.
    previous = settings.WEBHOOK_DRAIN_SECONDS
    settings.WEBHOOK_DRAIN_SECONDS = 3600
    try:
        yield
    finally:
        settings.WEBHOOK_DRAIN_SECONDS = previous


def run(*, n: int, endpoints: int) -> dict:
    receiver = CountingReceiver()
    try:
        with long_turns():
            results = {"in_process": in_process(n=n, receiver=receiver)}
        results["celery"] = through_celery(n=n // endpoints, endpoints=endpoints, receiver=receiver)
        results["bare"] = bare(n=n, receiver=receiver)
    finally:
        receiver.close()
    results["ratio_in_process_to_bare"] = round(results["in_process"]["per_second"] / results["bare"]["per_second"], 3)
    return results

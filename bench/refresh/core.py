"""N due connections refreshed by one Celery worker against the sandbox, and a bare ``requests`` loop making
the same token calls. Assumes Django is set up, the database migrated and the sandbox reachable at
``sandbox_url``; ``bench/refresh/__main__.py`` arranges all three."""

import os
import secrets
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from datetime import timedelta

import requests
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, task_prerun
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from broker_portal import services
from broker_portal.celery import app
from broker_portal.models import Membership, Tenant, User
from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.tasks import refresh_connection
from connectors.token_refresh import connections_sweep, refresh_window
from sandbox.models import Client as SandboxClient
from sandbox.models import SandboxUser
from sandbox.models import Token as SandboxToken
from sandbox.services import client_register, seed_accounts

EXCHANGE = "kucoin"  # its refresh is the strictest: scope required, pair rotated, reuse revokes the family
CLIENT_ID, CLIENT_SECRET = "bench-refresh-kucoin", "bench-refresh-kucoin-secret"
SCOPES = ["API_COMMON", "API_SPOT"]


def prepare(*, sandbox_url: str, n: int) -> dict:
    """A tenant with a KuCoin credential at the sandbox, n due connections holding real sandbox pairs, and
    n more pairs for the bare loop. Earlier runs' rows are removed first."""
    tenant = Tenant.objects.filter(slug="bench-refresh").first() or services.tenant_create(
        name="Refresh Bench", slug="bench-refresh", hosts=["bench-refresh.localhost"]
    )
    user = User.objects.filter(email="bench@refresh.example").first() or services.member_create(
        tenant=tenant,
        email="bench@refresh.example",
        password="bench-refresh-pass",
        role=Membership.Role.MEMBER,
        email_verified=True,
    )
    client_register(
        exchange=EXCHANGE,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=["http://bench-refresh.localhost/cb"],
        permissions=["OAUTH_CREATE_API", *SCOPES],
    )
    base = f"{sandbox_url.rstrip('/')}/sandbox/{EXCHANGE}"
    www = f"{sandbox_url.rstrip('/')}/sandbox/kucoin-www"  # KuCoin's token calls are on its www host
    ExchangeCredential.objects.update_or_create(
        tenant=tenant,
        exchange=EXCHANGE,
        defaults={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": ["http://bench-refresh.localhost/cb"],
            "allowed_permissions": SCOPES,
            "default_permissions": SCOPES,
            "authorize_base_url": www,
            "api_base_url": base,
        },
    )
    if not SandboxUser.objects.filter(exchange=EXCHANGE, email=f"trader@{EXCHANGE}.sandbox").exists():
        seed_accounts(history_rows=1)
    sandbox_user = SandboxUser.objects.get(exchange=EXCHANGE, email=f"trader@{EXCHANGE}.sandbox")
    client = SandboxClient.objects.get(exchange=EXCHANGE, client_id=CLIENT_ID)

    ExchangeConnection.objects.filter(tenant=tenant).delete()
    SandboxToken.objects.filter(client=client).delete()
    now = timezone.now()
    tokens = SandboxToken.objects.bulk_create(
        SandboxToken(
            family=secrets.token_hex(16),
            client=client,
            user=sandbox_user,
            scopes=["OAUTH_CREATE_API", *SCOPES],
            access_token=secrets.token_urlsafe(36),
            refresh_token=secrets.token_urlsafe(36),
            access_expires_at=now + timedelta(minutes=3),
            refresh_expires_at=now + timedelta(days=3),
            created_at=now,
        )
        for _ in range(2 * n)
    )
    ExchangeConnection.objects.bulk_create(
        (
            ExchangeConnection(
                tenant=tenant,
                user=user,
                exchange=EXCHANGE,
                exchange_account_id=f"bench-{i}",
                permissions=SCOPES,
                access_token=token.access_token,
                refresh_token=token.refresh_token,
                access_expires_at=now + timedelta(minutes=3),
                refresh_expires_at=token.refresh_expires_at,
            )
            for i, token in enumerate(tokens[:n])
        ),
        batch_size=1000,
    )
    return {
        "tenant": tenant,
        "bare_refresh_tokens": [token.refresh_token for token in tokens[n:]],
        "refresh_url": f"{www}/_oauth/refresh-token",
    }


class TaskQueryCounter:
    """Django's own count (what assertNumQueries counts, BEGIN and COMMIT included) of each refresh task."""

    def __init__(self):
        self.queries = self.tasks = 0
        self._open = threading.local()

    def before(self, task=None, **kwargs):
        if task is not None and task.name == refresh_connection.name:
            connections["default"].queries_log.clear()  # it keeps only the last 9,000
            self._open.context = CaptureQueriesContext(connections["default"])
            self._open.context.__enter__()

    def after(self, task=None, **kwargs):
        context = getattr(self._open, "context", None)
        if context is not None and task is not None and task.name == refresh_connection.name:
            context.__exit__(None, None, None)
            self.queries += len(context)
            self.tasks += 1
            self._open.context = None


@contextmanager
def thread_worker():
    """One solo worker in a thread of this process (what the test suite uses); yields its query totals."""
    counter = TaskQueryCounter()
    task_prerun.connect(counter.before, weak=False)
    task_postrun.connect(counter.after, weak=False)
    try:
        with start_worker(
            app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
        ):
            yield lambda: {"queries": counter.queries, "tasks": counter.tasks}
    finally:
        task_prerun.disconnect(counter.before)
        task_postrun.disconnect(counter.after)


def worker_round(*, ids: list[int], timeout: float) -> float:
    """Make these connections due, sweep, and wait for the worker: seconds from the sweep's start to the
    last commit."""
    ExchangeConnection.objects.filter(pk__in=ids).update(access_expires_at=timezone.now() + timedelta(minutes=3))
    started = timezone.now()
    swept = connections_sweep(batch_size=1000)
    if swept["enqueued"] != len(ids):
        raise RuntimeError(f"the sweep enqueued {swept['enqueued']} of {len(ids)}")
    done = ExchangeConnection.objects.filter(pk__in=ids, last_refreshed_at__gte=started)
    deadline = time.monotonic() + timeout
    while done.count() < len(ids) and time.monotonic() < deadline:
        # Seldom: each look is a query on the machine the worker runs on. The time measured is the rows'
        # own (updated_at), so how soon the end is noticed does not change it.
        time.sleep(0.25)
    finished = done.order_by("-updated_at").values_list("updated_at", flat=True).first()
    if done.count() < len(ids):
        raise RuntimeError("the worker did not refresh every connection in time")
    return (finished - started).total_seconds()


class ConnectionSampler:
    """The worker's database connections as PostgreSQL sees them (pg_stat_activity, by application name), looked
    at every few milliseconds from a connection of its own: the most open at once, and the most busy at once (in
    a query or a transaction) while the portal's rounds run."""

    def __init__(self, application_name: str, every_seconds: float = 0.02):
        self.application_name, self.every = application_name, every_seconds
        self.open = self.busy = 0
        self._running = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        connection = connections.create_connection("default")
        try:
            with connection.cursor() as cursor:
                while not self._stop.is_set():
                    if self._running.wait(0.1):
                        cursor.execute(
                            "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "
                            "WHERE application_name = %s",
                            [self.application_name],
                        )
                        opened, busy = cursor.fetchone()
                        self.open, self.busy = max(self.open, opened), max(self.busy, busy)
                        time.sleep(self.every)
        finally:
            connection.close()

    @contextmanager
    def sampling(self):
        self._running.set()
        try:
            yield
        finally:
            self._running.clear()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def bare_call(refresh_url: str, refresh_token: str) -> None:
    response = requests.post(
        refresh_url,
        timeout=(5, 20),
        allow_redirects=False,
        data={
            "grant_type": "authorization_code",
            "refresh_token": refresh_token,
            "scope": "OAUTH_CREATE_API",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    if response.status_code != 200 or "access_token" not in response.json():
        raise RuntimeError(f"bare refresh failed: HTTP {response.status_code}")


def bare_phase(*, refresh_url: str, refresh_tokens: list[str], concurrency: int = 1) -> float:
    """The same token calls with nothing around them: one requests.post each (exchange_session's calls get a
    new connection each from the sandbox too), by as many loops at once as the worker runs refreshes."""
    started = time.perf_counter()
    if concurrency == 1:
        for refresh_token in refresh_tokens:
            bare_call(refresh_url, refresh_token)
    else:
        with ThreadPoolExecutor(concurrency) as loops:
            list(loops.map(lambda token: bare_call(refresh_url, token), refresh_tokens))
    return time.perf_counter() - started


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (Linux), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_spent(pid: int | None, spent: dict, side: str):
    """Adds to ``spent[side]`` the CPU time process ``pid`` used within the block (nothing without a pid)."""
    before = process_cpu_seconds(pid) if pid else 0.0
    try:
        yield
    finally:
        if pid:
            spent[side] += process_cpu_seconds(pid) - before


def run(
    *,
    sandbox_url: str,
    n: int,
    chunk: int = 50,
    timeout: float = 3600,
    worker=thread_worker,
    concurrency: int = 1,
    say=print,
    worker_application_name: str = "",
    sandbox_pid: int | None = None,
) -> dict:
    """Bare and portal calls alternate in chunks, so that both see the same load on a shared machine.
    ``worker_application_name``: the worker's connections' application name, to count them while it works;
    ``sandbox_pid``: the sandbox's process, whose CPU time per call the figures then include."""
    say(f"preparing {n} connections and {n} bare pairs at {sandbox_url} ...")
    prepared = prepare(sandbox_url=sandbox_url, n=n)
    tenant = prepared["tenant"]
    ids = list(ExchangeConnection.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    # Not due until their round comes.
    ExchangeConnection.objects.filter(tenant=tenant).update(access_expires_at=timezone.now() + timedelta(hours=1))
    bare_tokens = prepared["bare_refresh_tokens"]
    size = max(1, min(chunk, n))
    portal_seconds = bare_seconds = 0.0
    chunk_ratios = []
    sampler = ConnectionSampler(worker_application_name) if worker_application_name else None
    sandbox_cpu = {"bare": 0.0, "portal": 0.0}
    with worker() as query_totals, sampler or nullcontext():
        for start in range(0, n, size):
            with cpu_spent(sandbox_pid, sandbox_cpu, "bare"):
                bare_chunk = bare_phase(
                    refresh_url=prepared["refresh_url"],
                    refresh_tokens=bare_tokens[start : start + size],
                    concurrency=concurrency,
                )
            with sampler.sampling() if sampler else nullcontext(), cpu_spent(sandbox_pid, sandbox_cpu, "portal"):
                portal_chunk = worker_round(ids=ids[start : start + size], timeout=timeout)
            bare_seconds, portal_seconds = bare_seconds + bare_chunk, portal_seconds + portal_chunk
            chunk_ratios.append(bare_chunk / portal_chunk)
            if (start // size) % max(1, n // size // 10) == 0:
                say(f"  {min(start + size, n)}/{n}: portal {portal_seconds:.2f} s, bare {bare_seconds:.2f} s")
    totals = query_totals()
    not_active = ExchangeConnection.objects.filter(tenant=tenant).exclude(status="active").count()
    if not_active:
        raise RuntimeError(f"{not_active} connections are not active after their refresh")
    portal_rate, bare_rate = n / portal_seconds, n / bare_seconds
    figures = {
        "benchmark": "refresh",
        "n": n,
        "exchange": EXCHANGE,
        "chunk": size,
        "concurrency": concurrency,
        "portal_connections_per_second": round(portal_rate, 1),
        "bare_requests_per_second": round(bare_rate, 1),
        "ratio": round(portal_rate / bare_rate, 3),
        "queries_per_refresh": round(totals["queries"] / max(totals["tasks"], 1), 2),
        "portal_seconds": round(portal_seconds, 2),
        "bare_seconds": round(bare_seconds, 2),
        # A connection whose access token lives an hour is refreshed once in every hour less the refresh window.
        "one_hour_connections_kept_fresh": int(portal_rate * (3600 - refresh_window().total_seconds())),
    }
    if sampler:
        figures.update(database_connections_open=sampler.open, database_connections_busy=sampler.busy)
    if totals.get("refreshes", 0) > 1 and totals.get("cpu_last") is not None:
        # The worker's own CPU per refresh (its threads share one interpreter lock, so one process cannot
        # use more than a core): what bounds its rate once the exchange answers fast enough.
        cpu_ms = 1000 * (totals["cpu_last"] - totals["cpu_first"]) / (totals["refreshes"] - 1)
        figures["worker_cpu_ms_per_refresh"] = round(cpu_ms, 2)
        figures["worker_cpu_bound_refreshes_per_second"] = round(1000 / cpu_ms, 1) if cpu_ms else None
        if totals.get("timed_tasks"):
            # Where that CPU goes: the token call (requests), the rest of the task (database, Python), and the
            # process outside the tasks (Celery receiving and acknowledging, kombu, Redis).
            per_task = 1000 / totals["timed_tasks"]
            figures["worker_cpu_ms_split"] = {
                "token_call": round(per_task * totals["token_call_cpu_seconds"], 2),
                "rest_of_task": round(per_task * (totals["task_cpu_seconds"] - totals["token_call_cpu_seconds"]), 2),
                "outside_tasks": round(cpu_ms - per_task * totals["task_cpu_seconds"], 2),
            }
    if sandbox_pid:
        figures["sandbox_cpu_ms_per_call"] = {side: round(1000 * spent / n, 2) for side, spent in sandbox_cpu.items()}
    if len(chunk_ratios) >= 10:
        # How much the machine's speed moved the ratio during the run: chunk by chunk, the middle 80%.
        deciles = statistics.quantiles(chunk_ratios, n=10)
        figures["chunk_ratio"] = {
            "p10": round(deciles[0], 3),
            "median": round(statistics.median(chunk_ratios), 3),
            "p90": round(deciles[-1], 3),
        }
    if totals.get("timed_tasks") and concurrency == 1:
        # Where a refresh's time goes (ms): the token call, the rest of the task (lock, commit, Python), and
        # Celery around the task; against the bare loop's call.
        per_task = 1000 / totals["timed_tasks"]
        figures["ms_per_refresh"] = {
            "token_call": round(per_task * totals["token_call_seconds"], 2),
            "rest_of_task": round(per_task * (totals["task_seconds"] - totals["token_call_seconds"]), 2),
            "around_task": round(1000 * portal_seconds / n - per_task * totals["task_seconds"], 2),
            "bare_call": round(1000 * bare_seconds / n, 2),
        }
    say(
        f"portal: {figures['portal_connections_per_second']} connections/s over {figures['portal_seconds']} s "
        f"(sweep, queue, one worker; {figures['queries_per_refresh']} queries a refresh)"
    )
    say(f"bare requests loop: {figures['bare_requests_per_second']} refreshes/s over {figures['bare_seconds']} s")
    if "ms_per_refresh" in figures:
        split = figures["ms_per_refresh"]
        say(
            f"per refresh: token call {split['token_call']} ms, rest of the task {split['rest_of_task']} ms, "
            f"Celery around it {split['around_task']} ms; a bare call {split['bare_call']} ms"
        )
    if "worker_cpu_ms_per_refresh" in figures:
        say(
            f"worker CPU: {figures['worker_cpu_ms_per_refresh']} ms a refresh, so at most "
            f"{figures['worker_cpu_bound_refreshes_per_second']} refreshes/s for one process"
        )
    if "worker_cpu_ms_split" in figures:
        split = figures["worker_cpu_ms_split"]
        say(
            f"worker CPU a refresh: token call {split['token_call']} ms, rest of the task {split['rest_of_task']} ms, "
            f"outside the tasks {split['outside_tasks']} ms"
        )
    if "sandbox_cpu_ms_per_call" in figures:
        spent = figures["sandbox_cpu_ms_per_call"]
        say(f"sandbox CPU a call: {spent['bare']} ms for the bare loop's, {spent['portal']} ms for the portal's")
    if "chunk_ratio" in figures:
        spread = figures["chunk_ratio"]
        say(
            f"ratio of each chunk of {size}: median {spread['median']}, 10th to 90th percentile "
            f"{spread['p10']} to {spread['p90']}"
        )
    if sampler:
        say(f"worker's database connections: at most {sampler.open} open, {sampler.busy} busy at once")
    say(f"ratio: {figures['ratio']}")
    return figures

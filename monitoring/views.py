"""/healthz, /readyz and /metrics, answered by ProbeMiddleware before the Host header is read.

None of them names a version, a host or an error's text."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import access
from .collectors import REGISTRY
from .readiness import OK, UNKNOWN, readiness


def probe_headers(response: HttpResponse) -> HttpResponse:
    # SecurityMiddleware has not run for these: the headers that matter for a machine-read answer are set here.
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and answers; nothing else is asked (an orchestrator restarts a process that fails this)."""
    return probe_headers(JsonResponse({"status": "ok"}))


def readyz(request: HttpRequest) -> HttpResponse:
    """200 while the database, the cache, the broker and beat's heartbeat are all well; 503 naming what is not."""
    checks = readiness()
    # A check left unknown (the heartbeat, while the cache is out) is not the cause: the one that failed is.
    failed = [name for name, answer in checks.items() if answer not in (OK, UNKNOWN)]
    body = {"status": "not_ready" if failed else "ready", "checks": checks, "failed": failed}
    return probe_headers(JsonResponse(body, status=503 if failed else 200))


def metrics(request: HttpRequest) -> HttpResponse:
    decision = access.metrics_access(request)
    if decision == access.UNCONFIGURED:
        return probe_headers(HttpResponse("Not found", status=404, content_type="text/plain"))
    if decision == access.NO_TOKEN:
        response = HttpResponse("Unauthorized", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return probe_headers(response)
    if decision != access.ALLOWED:
        return probe_headers(HttpResponse("Forbidden", status=403, content_type="text/plain"))
    return probe_headers(HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST))

"""/healthz and /readyz, answered by ProbeMiddleware before the Host header is read.

Neither names a version, a host or an error's text."""

from django.http import HttpRequest, HttpResponse, JsonResponse

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


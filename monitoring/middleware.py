from django.http import HttpRequest, HttpResponseNotAllowed

from . import views

PROBES = {"/healthz": views.healthz, "/readyz": views.readyz, "/metrics": views.metrics}


class ProbeMiddleware:
    """Answers the probe and metrics paths itself, first of all middleware.

    A kubelet or compose probe and a Prometheus scrape address the pod or container by its IP, which is in no
    ALLOWED_HOSTS: ``request.get_host()`` would refuse it, so nothing here calls that. Nor do they belong to a
    tenant, and in production they are not redirected to HTTPS (the probe speaks plain HTTP to the container)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        view = PROBES.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return view(request)

"""Small request/response helpers shared by the exchanges' views."""

import json

from django.http import HttpResponseRedirect, JsonResponse


class AnySchemeRedirect(HttpResponseRedirect):
    """Registered redirect URIs may use an app's own scheme; they were checked against the client already."""

    allowed_schemes = ["http", "https", "ftp"]

    def __init__(self, url, *args, **kwargs):
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme and scheme not in self.allowed_schemes:
            self.allowed_schemes = [*self.allowed_schemes, scheme]
        super().__init__(url, *args, **kwargs)


def local_path(request, exchange: str, *, with_query: bool = True) -> str:
    """The path as the real exchange would see it: what follows /sandbox/<exchange>. Signatures cover this."""
    path = request.path.split(f"/sandbox/{exchange}", 1)[-1] or "/"
    query = request.META.get("QUERY_STRING", "")
    return f"{path}?{query}" if with_query and query else path


def body_text(request) -> str:
    return request.body.decode("utf-8", errors="replace")


def is_json(request) -> bool:
    return request.content_type == "application/json"


def json_object(request) -> dict | None:
    """The body as a JSON object (an empty body is {}); None when it is not one."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def request_params(request) -> dict:
    """A POST's parameters from a JSON object or a form body."""
    if is_json(request):
        return json_object(request) or {}
    return request.POST.dict()


def json_response(data, status: int = 200, **headers) -> JsonResponse:
    response = JsonResponse(data, status=status, safe=False)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def site_base(request, exchange: str) -> str:
    return request.build_absolute_uri(f"/sandbox/{exchange}")

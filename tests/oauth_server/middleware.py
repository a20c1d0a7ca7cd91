"""django-oauth-toolkit 3.4 adds RFC 9207's ``iss`` to successful authorization responses only; RFC 9207 §2 asks
for it in error responses too. Added here, for the test server, to error redirects of the authorization endpoint."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings


class IssuerInAuthorizationErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        location = response.get("Location", "") if response.status_code == 302 else ""
        if request.path == "/o/authorize/" and location:
            parts = urlsplit(location)
            query = parse_qsl(parts.query, keep_blank_values=True)
            names = {name for name, _ in query}
            if "error" in names and "iss" not in names:
                response["Location"] = urlunsplit(parts._replace(query=urlencode([*query, ("iss", settings.ISSUER)])))
        return response

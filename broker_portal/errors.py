"""The portal's user-facing errors: one family, each with the words the user reads, a code and an HTTP status.

A page renders an uncaught one through ``PortalErrorMiddleware`` (``portal_error_response``); the API through its
exception handler (api/errors.py). Both say the same words, so a refusal reads alike wherever it is met."""

from django.shortcuts import render


class PortalError(Exception):
    """A rule of the portal refused the request, or a part it relies on cannot answer; the message is for the user.
    ``error_code`` names the kind for API callers (``code`` is left to subclasses that carry an exchange's own)."""

    error_code = "refused"
    http_status = 422

    def __init__(self, message: str = "", *, error_code: str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = str(message)  # an attribute, as the subclasses that set it themselves (WithdrawalError) expect
        if error_code is not None:
            self.error_code = error_code
        if http_status is not None:
            self.http_status = http_status


def is_api_request(request) -> bool:
    return request.path_info.startswith("/api/")


def portal_error_response(request, error: PortalError):
    """The page that says what went wrong, with the error's status."""
    return render(request, "portal/error.html", {"message": error.message}, status=error.http_status)


class PortalErrorMiddleware:
    """Pages: an uncaught PortalError is its page, never a 500 (the API's handler answers API paths)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, PortalError) and not is_api_request(request):
            return portal_error_response(request, exception)
        return None

"""One error body for every failure: {"error": {"code", "message", "fields"?}}."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from broker_portal.errors import PortalError, is_api_request
from broker_portal.ratelimits import RateLimited


class DomainError(exceptions.APIException):
    """A rule of the portal refused the request; the message is for the caller."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "refused"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def api_exception_handler(exc, context):
    if isinstance(exc, PortalError):  # the words its page shows (broker_portal.errors.portal_error_response)
        return error_response(exc.error_code, exc.message, exc.http_status)
    if isinstance(exc, RateLimited):  # a portal limit (broker_portal.ratelimits), said as the 429 page says it
        response = error_response("throttled", f"Too many requests; try again in {exc.retry_after} seconds.", 429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", "The request is not valid.", detail)
    else:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
        response.data = error_body(codes if isinstance(codes, str) else "error", str(exc.detail))
    return response


def error_response(code: str, message: str, http_status: int) -> Response:
    return Response(error_body(code, message), status=http_status)


def not_found(request, exception=None):
    """API paths answer 404 in the API's body; pages keep Django's page."""
    if is_api_request(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_request(request):
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
    return defaults.server_error(request)

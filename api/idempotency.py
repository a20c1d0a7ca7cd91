"""Idempotency-Key for POSTs that must happen once: replay, refuse a changed body, refuse a concurrent twin."""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from .errors import api_exception_handler, error_response
from .models import IdempotentRequest


def fingerprint(operation: str, body: dict, secret_fields: tuple[str, ...]) -> str:
    public = {key: value for key, value in body.items() if key not in secret_fields}
    message = operation + "\n" + json.dumps(public, sort_keys=True, default=str)
    return hmac.new(settings.SECRET_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def idempotent(request, *, operation: str, secret_fields: tuple[str, ...] = (), handle) -> Response:
    """Run ``handle()`` once per Idempotency-Key; without the header, just run it."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return handle()
    if len(key) > 255:
        return error_response("invalid", "Idempotency-Key is too long.", status.HTTP_400_BAD_REQUEST)
    request_fingerprint = fingerprint(operation, dict(request.data), secret_fields)
    try:
        with transaction.atomic():
            record = IdempotentRequest.objects.create(
                tenant=request.tenant, user=request.user, key=key, operation=operation, fingerprint=request_fingerprint
            )
    except IntegrityError:
        first = IdempotentRequest.objects.get(tenant=request.tenant, user=request.user, key=key)
        if first.operation != operation or first.fingerprint != request_fingerprint:
            return error_response(
                "idempotency_key_reused",
                "This Idempotency-Key was used with another request.",
                status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if first.response_status is None:
            return error_response(
                "in_progress", "A request with this Idempotency-Key is still being processed.", status.HTTP_409_CONFLICT
            )
        return Response(first.response_body, status=first.response_status, headers={"Idempotent-Replayed": "true"})
    try:
        response = handle()
    except APIException as refused:
        response = api_exception_handler(refused, {})
    except Exception:
        # Nothing is known to have happened: let a retry with the same key run again.
        IdempotentRequest.objects.filter(pk=record.pk).delete()
        raise
    record.response_status = response.status_code
    record.response_body = response.data
    record.save(update_fields=["response_status", "response_body"])
    return response

"""The request id: one per web request (a sane incoming X-Request-ID, else a new one), returned in the response,
carried to every task the request enqueues (a message header) and to the tasks those enqueue, and put on every
log line (broker_portal.logs.AddRequestId). Tasks no request started (beat's) get one of their own."""

import re
import uuid
from contextvars import ContextVar

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.core.signals import request_finished, request_started
from django.dispatch import receiver

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "request_id"
# What a proxy or load balancer sends (a UUID, nginx's $request_id, 32 hex digits); anything else (too long, with
# spaces, quotes or line breaks that could forge a log line) is replaced by our own.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_task: ContextVar[str | None] = ContextVar("task", default=None)
_task_tokens: dict[str, tuple] = {}


def current_request_id() -> str | None:
    return _request_id.get()


def current_task() -> str | None:
    return _task.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value) -> str | None:
    return value if isinstance(value, str) and SANE_REQUEST_ID.fullmatch(value) else None


@receiver(request_started, dispatch_uid="broker_portal.request_id.start")
def start_request(environ=None, **kwargs):
    # From the handler's first step to its last: Django logs a 4xx or 5xx answer after every middleware has returned.
    if environ is not None:
        _request_id.set(sane_request_id(environ.get("HTTP_X_REQUEST_ID")) or new_request_id())


@receiver(request_finished, dispatch_uid="broker_portal.request_id.finish")
def finish_request(**kwargs):
    _request_id.set(None)


class RequestIdMiddleware:
    """Returns the request's id in the response header (and, where no WSGI handler set one, chooses it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = current_request_id()
        if request.request_id is None:
            request.request_id = sane_request_id(request.META.get("HTTP_X_REQUEST_ID")) or new_request_id()
            _request_id.set(request.request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


@before_task_publish.connect(dispatch_uid="broker_portal.request_id.carry")
def carry_request_id(headers=None, **kwargs):
    request_id = current_request_id()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


@task_prerun.connect(dispatch_uid="broker_portal.request_id.adopt")
def adopt_request_id(task_id=None, task=None, **kwargs):
    # An eager task (tests) runs inside the request that called it and keeps its id.
    request_id = sane_request_id(getattr(task.request, TASK_HEADER, None)) or current_request_id() or new_request_id()
    _task_tokens[task_id] = (_request_id.set(request_id), _task.set(f"{task.name}[{task_id}]"))


@task_postrun.connect(dispatch_uid="broker_portal.request_id.drop")
def drop_request_id(task_id=None, **kwargs):
    tokens = _task_tokens.pop(task_id, None)
    if tokens is None:
        return
    try:
        _request_id.reset(tokens[0])
        _task.reset(tokens[1])
    except ValueError:  # set in another context (cannot happen with Celery's pools; never fail a task for it)
        _request_id.set(None)
        _task.set(None)

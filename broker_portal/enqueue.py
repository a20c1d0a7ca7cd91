"""How services hand work to the workers: by task name, once the transaction that asked for it has committed.

By name (a Celery signature) so that a service never imports its app's tasks module: tasks import services, never
the other way round, and there is no import cycle to break with a function-level import. After commit so that a
worker never reads a row the request has not yet written, and a rolled-back request enqueues nothing.
tests/test_enqueue.py checks that every name enqueued anywhere in the code is a registered task.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from celery import Signature, current_app
from django.db import transaction


def enqueue(name: str, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Send the task now, inside or outside a transaction: for callers that are not writing (beat fan-out, tasks)."""
    task_signature(name, args=args, kwargs=kwargs).apply_async(countdown=countdown)


def enqueue_on_commit(name: str, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Send the task when the current transaction commits; at once when there is none (autocommit)."""
    transaction.on_commit(lambda: enqueue(name, *args, countdown=countdown, **kwargs))


def enqueue_each(
    name: str, args_each: Iterable[Sequence[Any]], *, countdown_each: Iterable[float | None] | None = None
) -> int:
    """Send one task per argument list through a single producer: taking one from the pool per message costs about
    a third of each publish in a sweep of thousands. Returns how many were sent."""
    signature = task_signature(name)
    countdowns = iter(countdown_each) if countdown_each is not None else None
    sent = 0
    with current_app.producer_or_acquire() as producer:
        for args in args_each:
            countdown = next(countdowns) if countdowns is not None else None
            signature.clone(args=tuple(args)).apply_async(countdown=countdown, producer=producer)
            sent += 1
    return sent


def task_signature(name: str, **options: Any) -> Signature:
    """A signature of the named task, registered: a signature finds its task by name in the registry, and a process
    that never imported the task's module (a web process; a test) would send the bare name instead, without the
    task's own options and, in eager mode, without running it. Such a process imports every app's tasks module
    once, as a worker does when it starts."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.signature(name, **options)

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "portal:worker-heartbeat"


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
def record_worker_heartbeat() -> None:
    """Beat sends this every minute; a worker running it proves both are alive."""
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().isoformat(), timeout=None)

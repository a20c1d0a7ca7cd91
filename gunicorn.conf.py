"""The production web server: `gunicorn broker_portal.wsgi:application` from the repository root reads this file.

Every value can be set from the environment (defaults in brackets):
  GUNICORN_BIND [0.0.0.0:$PORT, PORT 8000]   where to listen (comma-separated for several)
  GUNICORN_WORKERS [2 × cores + 1]            processes; each holds GUNICORN_THREADS database connections
  GUNICORN_THREADS [4]                        threads per process (gthread): a request waits up to 20 s on an exchange
  GUNICORN_TIMEOUT [60]                       seconds a silent worker lives before the master restarts it
  GUNICORN_GRACEFUL_TIMEOUT [30]              seconds a stopping worker has to finish its requests
  GUNICORN_KEEPALIVE [5]                      seconds an idle keep-alive connection stays open (set it above
                                              the idle timeout of a load balancer that reuses connections)
  GUNICORN_MAX_REQUESTS [1000], GUNICORN_MAX_REQUESTS_JITTER [100]
                                              a worker is replaced after about this many requests (bounds slow leaks)
  FORWARDED_ALLOW_IPS [127.0.0.1,::1]         proxies whose X-Forwarded-Proto gunicorn believes, and only with
                                              TLS_PROXY_SETS_FORWARDED_PROTO=true (Django's SECURE_PROXY_SSL_HEADER)
  GUNICORN_ACCESS_LOG [-], GUNICORN_ERROR_LOG [-]   files, or "-" for stdout / stderr
  GUNICORN_CONTROL_SOCKET [off]               a path to open gunicorn's control socket (gunicornc) at
  LOG_FORMAT [json here], LOG_LEVEL [INFO]    shared with Django's logging (broker_portal/settings/base.py)

Graceful reload (new code or configuration, no request dropped): `kill -HUP <master pid>` starts new workers and
stops the old ones once they finish their requests. TTIN / TTOU add or remove a worker; TERM stops gracefully
(within GUNICORN_GRACEFUL_TIMEOUT), INT / QUIT at once. The app is not preloaded, so HUP loads the new code.
"""

import os

# The server runs the production settings unless told otherwise, and logs JSON lines; the workers inherit both.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "broker_portal.settings.production")
os.environ.setdefault("LOG_FORMAT", "json")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def cores() -> int:
    # The CPUs this process may run on (a container's cpuset), not all the machine has.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


wsgi_app = "broker_portal.wsgi:application"
bind = [
    address.strip()
    for address in os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}").split(",")
    if address.strip()
]
workers = env_int("GUNICORN_WORKERS", 2 * cores() + 1)
threads = env_int("GUNICORN_THREADS", 4)
worker_class = "gthread"
timeout = env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = env_int("GUNICORN_KEEPALIVE", 5)
max_requests = env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)
# The heartbeat file in memory: on a disk-backed /tmp (Docker's overlay) its fchmod can stall a worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "broker-portal"

# X-Forwarded-Proto is believed only where Django believes it too (a proxy that sets and overwrites it), and then
# only from FORWARDED_ALLOW_IPS.
if os.environ.get("TLS_PROXY_SETS_FORWARDED_PROTO", "").strip().lower() in {"1", "true", "yes", "on"}:
    secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
else:
    secure_scheme_headers = {}
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The access log never holds a query string (the OAuth callback's carries the code): broker_portal/gunicorn_logger.py.
logger_class = "broker_portal.gunicorn_logger.PortalGunicornLogger"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
# Apache's combined format with the request line's query left out, the duration and the request id.
access_log_format = '%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms %({x-request-id}o)s'

control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

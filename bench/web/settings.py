"""The production settings as gunicorn serves them, but for the one policy a loopback sandbox cannot pass: calls
to the exchanges' own https hosts only (connectors/base/hosts.py). Everything else (DEBUG off, manifest static
files, Redis cache, persistent database connections, JSON logs) is production's."""

from broker_portal.settings.production import *  # noqa: F401,F403

EXCHANGE_HOSTS_ENFORCED = False  # the sandbox answers on 127.0.0.1 over http

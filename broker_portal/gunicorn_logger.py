"""The web server's logger (gunicorn.conf.py ``logger_class``): an access log without query strings, one JSON
object per line when LOG_FORMAT=json, and the error log redacted like the portal's own.

Why no query string at all, for any URL, rather than redacting known names: the OAuth callback's query carries the
authorization code and state, the same code travels URL-encoded inside other queries (``?next=...``) where no list
of names would recognise it, and an exchange may add a parameter we have never heard of. Method, path, status and
timing are what an operator reads an access log for.
"""

import os
from urllib.parse import urlsplit, urlunsplit

from gunicorn.glogging import Logger

from broker_portal.logs import JsonLineFormatter, RedactSecrets

# Request headers an access log format could name that carry credentials.
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-csrftoken"}
# The only environ values a format may name with %({NAME}e)s: none holds a query, a header's secret or an object.
LOGGABLE_ENVIRON = {
    "remote_addr",
    "remote_port",
    "request_method",
    "path_info",
    "script_name",
    "server_name",
    "server_port",
    "server_protocol",
    "http_host",
    "http_user_agent",
    "http_x_forwarded_for",
    "http_x_request_id",
    "wsgi.url_scheme",
}


def without_query(url: str) -> str:
    if not url or url == "-":
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def json_lines() -> bool:
    return os.environ.get("LOG_FORMAT", "plain") == "json"


class PortalGunicornLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(existing, RedactSecrets) for existing in handler.filters):
                    handler.addFilter(RedactSecrets())
                if json_lines():
                    handler.setFormatter(JsonLineFormatter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = environ.get("RAW_URI", "").split("?", 1)[0] or environ.get("PATH_INFO", "")
        atoms["r"] = f"{environ['REQUEST_METHOD']} {path} {environ['SERVER_PROTOCOL']}"
        atoms["q"] = "-"
        atoms["f"] = without_query(atoms["f"])
        for key in list(atoms):
            name, kind = key[1:-2], key[-2:]
            if (
                (kind == "}e" and name not in LOGGABLE_ENVIRON)
                or (kind == "}i" and name in SECRET_HEADERS)
                or key == "{set-cookie}o"
            ):
                del atoms[key]
        if "{referer}i" in atoms:
            atoms["{referer}i"] = atoms["f"]
        return atoms

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        if not json_lines():
            super().access(resp, req, environ, request_time)
            return
        atoms = self.atoms(resp, req, environ, request_time)
        method, path, protocol = atoms["r"].split(" ", 2)
        status = int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"]
        http = {
            "method": method,
            "path": path,
            "protocol": protocol,
            "status": status,
            "bytes": atoms["B"],
            "duration_ms": atoms["M"],
            "remote_addr": atoms["h"],
            "user_agent": atoms["a"],
            "referer": atoms["f"],
        }
        self.access_log.info(
            "%s %s %s", method, path, status, extra={"http": http, "request_id": atoms.get("{x-request-id}o")}
        )

"""What reaches a log line: secrets and OAuth codes redacted, the request id attached, one JSON object per line.

Used by Django's LOGGING (web, worker, beat) and by the web server's own logger (broker_portal.gunicorn_logger).
This module imports nothing of Django's, so the web server's master process can load it before any settings.
"""

import json
import logging
import re
import traceback
from datetime import UTC, datetime

from broker_portal.request_id import current_request_id, current_task

REDACTED = "[redacted]"

# Names whose values are secrets or one-time codes, compared without case, "-", "_" or ".": OAuth codes and
# state, tokens, client and API secrets, passphrases, passwords, signatures, API keys, the exchanges' 2FA codes
# (KuCoin's emailCode, googleCode), cookies and session ids.
SECRET_NAME_PARTS = (
    "token",
    "secret",
    "passphrase",
    "password",
    "passwd",
    "signature",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "cookie",
    "sessionid",
    "csrf",
    "seed",
    "code",
)
SECRET_NAME_ENDINGS = ("key", "sign", "otp")
SECRET_NAMES = {"state", "oauthstate"}
# Codes that are not secrets: an HTTP status, an exchange's error number.
NOT_SECRET_NAMES = {"statuscode", "errorcode", "httpcode", "exitcode", "returncode"}

_NAME = r"[A-Za-z][\w.-]{0,63}"
# name=value, also percent-encoded (a URL inside ?next=...), in query strings, form bodies and "key=value" text.
# Only the name is matched, so the value of a name that is no secret (next=) is searched as well.
_ASSIGNMENT = re.compile(rf"(?:(?<![\w.%-])|(?<=%[0-9A-Fa-f]{{2}}))({_NAME})(?:=|%3[dD])")
_ASSIGNED_VALUE = re.compile(r"(?:(?!%26)[^&\s\"'<>,;)\]}])+")
# "name": "value" and 'name': 'value' (JSON, a dict's repr), also with a bare number as the value.
_QUOTED = re.compile(rf"([\"'])({_NAME})\1(\s*:\s*)(?:([\"'])(?:(?!\4).)*\4|-?\d+)")
# A header line "Name: value" (KC-API-PASSPHRASE: ..., Authorization: Bearer ...).
_HEADER = re.compile(
    rf"(?<![\w.-])({_NAME})(:[ \t]*)(?:(?:Bearer|Basic|Token|Digest)[ \t]+)?([^\s\"',;]+)", re.IGNORECASE
)
_SCHEME_CREDENTIALS = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# A request line as servers and HTTP clients log it ("GET /path?query HTTP/1.1"): the query goes, always.
_REQUEST_LINE = re.compile(r"\b([A-Z]{3,7}) ([^\s?\"]*)\?[^\s\"]* (HTTP/\d(?:\.\d)?)")


def is_secret_name(name: str) -> bool:
    compact = re.sub(r"[-_.]", "", name.lower())
    if compact in NOT_SECRET_NAMES:
        return False
    return (
        compact in SECRET_NAMES
        or compact.endswith(SECRET_NAME_ENDINGS)
        or any(part in compact for part in SECRET_NAME_PARTS)
    )


def redact(text: str) -> str:
    """The text without query strings in request lines and without the values of secret-named fields.

    A list of names cannot know every field an exchange may add, which is why the web server's access log keeps no
    query string at all (broker_portal.gunicorn_logger); this catches secrets in everything else that is logged."""
    text = _REQUEST_LINE.sub(r"\1 \2 \3", text)
    text = redact_assignments(text)
    text = _QUOTED.sub(
        lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4] or m[1]}{REDACTED}{m[4] or m[1]}" if is_secret_name(m[2]) else m[0],
        text,
    )
    text = _HEADER.sub(
        lambda m: (
            f"{m[1]}{m[2]}{REDACTED}"
            if "-" in m[1] and is_secret_name(m[1]) or m[1].lower() in {"authorization", "cookie", "set-cookie"}
            else m[0]
        ),
        text,
    )
    return _SCHEME_CREDENTIALS.sub(rf"\1 {REDACTED}", text)


def redact_assignments(text: str) -> str:
    kept, position = [], 0
    for assignment in _ASSIGNMENT.finditer(text):
        if assignment.start() < position or not is_secret_name(assignment[1]):
            continue
        value = _ASSIGNED_VALUE.match(text, assignment.end())
        kept += [text[position : assignment.end()], REDACTED]
        position = value.end() if value else assignment.end()
    return "".join(kept) + text[position:]


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (its arguments merged in), traceback and stack with ``redact``. On handlers, so
    every record that is written passes it, whichever logger it came from."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: keep what it said rather than lose the line
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class AddRequestId(logging.Filter):
    """Puts the request id (web request or the task it started) and the running task on the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        record.task = current_task() or "-"
        return True


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line with a fixed set of fields. Extra attributes are left out on purpose: Django puts
    the request object on django.request and django.server records, and its repr carries the query string; only a
    record's ``http`` (the web server's access fields) is added."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id() if request_id in (None, "-") else request_id,
            "process": record.process,
        }
        task = getattr(record, "task", "-")
        if task != "-":
            line["task"] = task
        if isinstance(getattr(record, "http", None), dict):
            line["http"] = record.http
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)

"""Production trusts X-Forwarded-Proto only when told a proxy sets it, and refuses a malformed FERNET_KEYS at start."""

import base64
import json

import pytest

from tests.test_settings import PRODUCTION_ENV, manage

SHOW_PROXY_HEADER = "from django.conf import settings; import json; print(json.dumps(settings.SECURE_PROXY_SSL_HEADER))"


def test_the_forwarded_proto_header_is_trusted_only_behind_a_proxy_that_sets_it():
    result = manage("shell", "-c", SHOW_PROXY_HEADER, env=PRODUCTION_ENV)
    assert json.loads(result.stdout.strip().splitlines()[-1]) is None, result.stderr
    behind = {**PRODUCTION_ENV, "TLS_PROXY_SETS_FORWARDED_PROTO": "true"}
    result = manage("shell", "-c", SHOW_PROXY_HEADER, env=behind)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["HTTP_X_FORWARDED_PROTO", "https"], result.stderr


@pytest.mark.parametrize("proxy", ["false", "true"])
def test_check_deploy_stays_clean_either_way(proxy):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "TLS_PROXY_SETS_FORWARDED_PROTO": proxy}
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_client_claiming_https_is_not_believed_without_a_proxy():
    show = (
        "from django.test import RequestFactory; "
        "print(RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https', HTTP_HOST='portal.example.com')"
        ".is_secure())"
    )
    assert manage("shell", "-c", show, env=PRODUCTION_ENV).stdout.strip().splitlines()[-1] == "False"


MANGLED = base64.urlsafe_b64encode(b"x" * 31).decode().ljust(44, "=")  # a generated key with a byte lost

MALFORMED = {
    "empty entry": ("key-one-long-enough,,key-two-long-enough", "entry 2 is empty"),
    "trailing comma": ("key-one-long-enough,", "entry 2 is empty"),
    "inner space": ("key one long enough", "entry 1 contains whitespace"),
    "newline": ("key-one\nlong-enough", "entry 1 contains whitespace"),
    "duplicate": ("key-one-long-enough,key-one-long-enough", "entry 2 repeats entry 1"),
    "mangled generated key": (MANGLED, "entry 1 looks like a generated Fernet key but does not decode to 32 bytes"),
}


@pytest.mark.parametrize("value, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_fernet_key_is_refused_at_start_with_a_clear_message(value, message):
    result = manage("check", env={**PRODUCTION_ENV, "FERNET_KEYS": value})
    assert result.returncode != 0
    assert f"FERNET_KEYS: {message}" in result.stderr, result.stderr[-2000:]
    assert value not in result.stderr  # the message names the entry, never the key


def test_well_formed_keys_still_start():
    generated = base64.urlsafe_b64encode(b"k" * 32).decode()
    result = manage("check", env={**PRODUCTION_ENV, "FERNET_KEYS": f" {generated} , older-passphrase-key "})
    assert result.returncode == 0, result.stderr

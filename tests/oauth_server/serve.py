"""Start the test authorization server: ``python -m tests.oauth_server.serve <port> <data dir> <config.json>``.

The config names its users ({"username", "password", "email"}) and clients ({"client_id", "client_secret",
"client_type": "confidential" | "public", "auth_method", "redirect_uris": [...]}). The server migrates its
SQLite database, registers them, prints "ready" and serves until it is stopped."""

import json
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def signing_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def main(port: int, data_dir: str, config_path: str) -> None:
    with open(config_path) as config_file:
        config = json.load(config_file)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oauth_server.settings"
    os.environ["TEST_OAUTH_SERVER_ISSUER"] = f"http://127.0.0.1:{port}/o"
    os.environ["TEST_OAUTH_SERVER_DIR"] = data_dir
    os.environ["TEST_OAUTH_SERVER_RSA_KEY"] = signing_key()
    os.environ["TEST_OAUTH_SERVER_AUTH_METHODS"] = json.dumps(
        {client["client_id"]: client["auth_method"] for client in config["clients"] if client.get("auth_method")}
    )

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for user in config["users"]:
        User.objects.create_user(username=user["username"], password=user["password"], email=user["email"])
    for client in config["clients"]:
        Application.objects.create(
            name=client["client_id"],
            client_id=client["client_id"],
            client_secret=client.get("client_secret", ""),
            hash_client_secret=False,
            client_type=client["client_type"],
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(client["redirect_uris"]),
            algorithm=Application.RS256_ALGORITHM,
        )
    server = make_server(
        "127.0.0.1", port, get_wsgi_application(), server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])

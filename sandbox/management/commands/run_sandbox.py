"""Serve the sandbox alone, in this process, on its own port (threaded WSGI): with its own settings
(DJANGO_SETTINGS_MODULE=sandbox.standalone_settings, its own database: bin/demo) or the project's (its database)."""

import os
import socketserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.management.base import BaseCommand


class SandboxRequestHandler(WSGIRequestHandler):
    def get_environ(self):
        environ = super().get_environ()
        environ["sandbox.socket"] = self.connection  # lets the "reset" fault drop the connection
        return environ

    def log_message(self, format, *args):
        if os.environ.get("SANDBOX_ACCESS_LOG"):
            super().log_message(format, *args)


class ThreadedWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class Command(BaseCommand):
    help = "Run the exchange sandbox as its own process: python manage.py run_sandbox --port 8765"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--migrate", action="store_true", help="apply migrations first")
        parser.add_argument("--seed", action="store_true", help="seed the sandbox accounts first")
        parser.add_argument(
            "--okx-domain",
            default="",
            help="the regional host OKX's callback names, and the only "
            "one its user calls are answered on (e.g. localhost:8765 while brokers call 127.0.0.1)",
        )

    def handle(self, *args, **options):
        # The sandbox's own URLs and middleware; must be set before Django builds its handler.
        from django.conf import settings
        from django.core.management import call_command

        from sandbox import standalone

        if settings.ROOT_URLCONF != "sandbox.standalone_urls":  # under the project's settings, not its own
            settings.ROOT_URLCONF = "sandbox.standalone_urls"
            settings.MIDDLEWARE = standalone.MIDDLEWARE
            settings.ALLOWED_HOSTS = ["*"]
        if options["okx_domain"]:
            settings.SANDBOX_OKX_DOMAIN = options["okx_domain"]
        if options["migrate"]:
            call_command("migrate", verbosity=0)
        if options["seed"]:
            call_command("sandbox_seed")
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
        server = make_server(options["host"], options["port"], application, ThreadedWSGIServer, SandboxRequestHandler)
        self.stdout.write(f"Sandbox on http://{options['host']}:{options['port']}/sandbox/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

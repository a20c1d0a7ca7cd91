"""Run the whole portal on embedded defaults: the exchange sandbox beside it, web server, Celery worker and beat,
until Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import requests
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from connectors.demo import describe, sandbox_url, seed_demo

SANDBOX_START_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Migrate, start the exchange sandbox as its own service, seed the demo data and run web, worker and "
        "beat together; Ctrl-C stops them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORTAL_PORT", "8000"))

    def handle(self, *args, port, **options):
        os.environ["PORTAL_PORT"] = str(port)
        call_command("migrate", interactive=False, verbosity=0)
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "broker_portal.settings.development"),
        }
        processes = {}
        try:
            if not apps.is_installed("sandbox"):  # else it is mounted inside the portal, under /sandbox/
                processes["sandbox"] = self.start_sandbox(python, manage, env)
            demo = seed_demo()
            commands = {
                "web": [python, manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
                "worker": [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "broker_portal",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    "2",
                    "--hostname",
                    "demo@%h",
                ],
                "beat": [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "broker_portal",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    settings.CELERY_BEAT_SCHEDULE_FILENAME,
                ],
            }
            processes.update(
                {name: subprocess.Popen(command, env=env, start_new_session=True) for name, command in commands.items()}
            )
            self.print_welcome(demo)
            self.supervise(processes)
        finally:
            self.stop_all(processes)

    def start_sandbox(self, python, manage, env):
        """The sandbox as the exchanges are: its own process, settings and SQLite file, on its own port."""
        address = urlsplit(sandbox_url())
        sandbox_env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "sandbox.standalone_settings",
            "SANDBOX_DATABASE_URL": env.get(
                "SANDBOX_DATABASE_URL", f"sqlite:///{settings.VAR_DIR / 'sandbox.sqlite3'}"
            ),
        }
        process = subprocess.Popen(
            [python, manage, "run_sandbox", "--migrate", "--host", "127.0.0.1", "--port", str(address.port or 80)],
            env=sandbox_env,
            start_new_session=True,
        )
        deadline = time.monotonic() + SANDBOX_START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError(f"The exchange sandbox exited with {process.returncode} at start.")
            try:
                if requests.get(f"{sandbox_url()}/", timeout=2).ok:
                    return process
            except requests.RequestException:
                pass
            time.sleep(0.25)
        process.terminate()
        raise CommandError(f"The exchange sandbox did not answer at {sandbox_url()}/ within {SANDBOX_START_SECONDS} s.")

    def supervise(self, processes):
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with {process.returncode}; stopping the others.")
                    stopping = True
            time.sleep(0.5)

    def stop_all(self, processes):
        # Each leader stops its own children (Celery its pool) when asked; stragglers are killed after 10 s.
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if processes:
            self.stdout.write(f"Stopped {', '.join(processes)}.")

    def print_welcome(self, demo):
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("The broker portal is running."))
        for line in describe(demo):
            self.stdout.write(f"  {line}")
        self.stdout.write("  Sign-in e-mails and codes are printed here (console e-mail backend).")
        self.stdout.write("  Press Ctrl-C to stop everything.")
        self.stdout.write("")
        sys.stdout.flush()

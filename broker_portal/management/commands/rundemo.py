"""Run the whole portal on embedded defaults: web server, Celery worker and beat, until Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from broker_portal.demo import describe, seed_demo


class Command(BaseCommand):
    help = "Migrate, seed the demo data and run web, worker and beat together; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORTAL_PORT", "8000"))

    def handle(self, *args, port, **options):
        os.environ["PORTAL_PORT"] = str(port)
        call_command("migrate", interactive=False, verbosity=0)
        demo = seed_demo()
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE",
                                                                     "broker_portal.settings.development")}
        commands = {
            "web": [python, manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [python, "-m", "celery", "-A", "broker_portal", "worker", "--loglevel", "INFO",
                       "--concurrency", "2", "--hostname", "demo@%h"],
            "beat": [python, "-m", "celery", "-A", "broker_portal", "beat", "--loglevel", "INFO",
                     "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
        }
        processes = {name: subprocess.Popen(command, env=env, start_new_session=True)
                     for name, command in commands.items()}
        self.print_welcome(demo)

        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping the others.")
                        stopping = True
                time.sleep(0.5)
        finally:
            self.stop_all(processes)

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
        self.stdout.write("Stopped web, worker and beat.")

    def print_welcome(self, demo):
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("The broker portal is running."))
        for line in describe(demo, f"http://localhost:{os.environ['PORTAL_PORT']}/sandbox/"):
            self.stdout.write(f"  {line}")
        self.stdout.write("  Sign-in e-mails and codes are printed here (console e-mail backend).")
        self.stdout.write("  Press Ctrl-C to stop everything.")
        self.stdout.write("")
        sys.stdout.flush()

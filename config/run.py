"""`make run` (``python -m config.run``): bring the whole platform up on embedded services
with the demo province.

Starts (unless configured to use external ones) Redis and the Stripe-compatible server,
migrates every schema, loads the demo province, then runs the Celery worker, Celery beat
and the web server until Ctrl-C, when it stops them all in order. PostgreSQL is started
by the settings themselves and stops when the last process using it exits. Data is kept
under .data/, so running it again keeps what was there.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# A development entry point: the settings refuse development values otherwise.
os.environ.setdefault("DJANGO_DEBUG", "true")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.base import BaseCommand, CommandError  # noqa: E402

from config import embedded  # noqa: E402


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the whole platform (database, Redis, Stripe-compatible server, worker, beat, web)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--bind", default=os.environ.get("RUN_BIND", "127.0.0.1"))
        parser.add_argument("--workers", type=int, default=2, help="web worker processes")
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo")

    def handle(self, *args, **opts):
        port = opts["port"]
        if embedded.port_open(port):
            raise CommandError(f"Port {port} is already in use; stop what runs there or "
                               f"pass --port.")
        logs = embedded.DATA_DIR / "logs"
        children: list[embedded.ManagedProcess] = []
        child_env: dict[str, str] = {}

        def stop_all(*_):
            for child in reversed(children):
                self.stdout.write(f"  stopping {child.name} ...")
                child.stop()

        signal.signal(signal.SIGTERM, _interrupt)
        try:
            if not os.environ.get("REDIS_URL"):
                redis_port = settings.EMBEDDED_REDIS_PORT
                if embedded.port_open(redis_port):
                    raise CommandError(f"Port {redis_port} (embedded Redis) is in use: is the "
                                       f"platform already running? Set EMBEDDED_REDIS_PORT.")
                children.append(embedded.redis_process(redis_port, logs / "redis.log").start())
                self.stdout.write(f"Redis            redis://127.0.0.1:{redis_port}")
            if not os.environ.get("STRIPE_API_BASE"):
                stripe_port = settings.EMBEDDED_STRIPE_PORT
                if embedded.port_open(stripe_port):
                    raise CommandError(f"Port {stripe_port} (local Stripe server) is in use; "
                                       f"set EMBEDDED_STRIPE_PORT.")
                children.append(embedded.stripe_process(
                    stripe_port, embedded.DATA_DIR / "stripe" / "state.pickle",
                    logs / "stripe.log").start())
                self.stdout.write(f"Stripe (local)   {settings.STRIPE_API_BASE}")
                from payments.gateway import register_local_webhook

                register_local_webhook(
                    f"http://127.0.0.1:{port}/api/v1/payments/webhooks/stripe/")

            call_command("migrate_schemas", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            summary = None
            if not opts["no_demo"]:
                from fixtures.loader import load_demo_province

                summary = load_demo_province()

            python = sys.executable
            children.append(embedded.ManagedProcess(
                name="worker",
                args=[python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                      "--concurrency", "2", "--hostname", "worker@%h"],
                env=child_env, log_path=logs / "worker.log").start())
            children.append(embedded.ManagedProcess(
                name="beat",
                args=[python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                      "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
                env=child_env, log_path=logs / "beat.log").start())
            children.append(embedded.ManagedProcess(
                name="web",
                args=[python, "-m", "gunicorn", "config.wsgi:application",
                      "--bind", f"{opts['bind']}:{port}", "--workers", str(opts["workers"]),
                      "--access-logfile", "-", "--log-level", "warning",
              "--limit-request-line", "8190"],
                port=port, env=child_env).start())

            self._print_welcome(port, summary)
            while all(child.alive() for child in children):
                time.sleep(1)
            dead = [c.name for c in children if not c.alive()]
            self.stderr.write(f"{', '.join(dead)} exited; see {logs}/. Stopping.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the platform ...")
        finally:
            stop_all()
        self.stdout.write(f"Stopped. Data is kept under {embedded.DATA_DIR}/.")

    def _print_welcome(self, port: int, summary) -> None:
        from banks.selectors import bank_list_active, bank_primary_domain

        w = self.stdout.write
        w("")
        w(self.style.SUCCESS("The platform is up.  平台已启动。"))
        w(f"  Portal (federation)   http://localhost:{port}/")
        for bank in bank_list_active():
            w(f"  {bank.name:<12} http://{bank_primary_domain(bank)}:{port}/")
        w(f"  API docs              http://localhost:{port}/api/v1/docs/")
        w(f"  Health                http://localhost:{port}/healthz")
        if summary is not None:
            w("")
            w(f"Demo logins (password for all: {summary.password})")
            for username, what in summary.logins:
                w(f"  {username:<18} {what}")
            if summary.partner_keys:
                w("")
                w("Partner API keys (shown once; the platform keeps only their hashes):")
                for partner, key in summary.partner_keys:
                    w(f"  {partner}  {key}")
        w("")
        w(f"Logs: {embedded.DATA_DIR / 'logs'}/   Press Ctrl-C to stop.")


def main() -> None:
    command = Command()
    command.run_from_argv([sys.argv[0], "run", *sys.argv[1:]])


if __name__ == "__main__":
    main()

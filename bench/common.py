"""What the benchmarks share: a throw-away database on the embedded PostgreSQL, and the
description of the machine and code a run measured.

Nothing here imports Django at import time: ``use_bench_database`` must run before Django
reads its settings.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def use_bench_database(name: str) -> None:
    """Point the settings at the embedded server's database ``name``, without debug (query
    logging would be measured too). Call before Django reads its settings."""
    os.environ.pop("DATABASE_URL", None)
    os.environ["EMBEDDED_DATABASE_NAME"] = name
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DJANGO_DEBUG"] = "0"
    # Debug off means production settings, which refuse the development secret and a
    # wildcard host list: a throw-away secret and the development host names.
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", ".localhost,localhost,127.0.0.1")
    # Plain HTTP on loopback: no redirect to HTTPS (production's default without debug).
    os.environ.setdefault("DJANGO_HTTPS", "false")
    # WhiteNoise warns once that collectstatic has not been run: irrelevant here.
    warnings.filterwarnings("ignore", message="No directory at")


def _server_connection():
    """A psycopg2 connection to the maintenance database of the embedded server."""
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = psycopg2.connect(
        dbname="postgres",
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db.get("PASSWORD") or None,
    )
    conn.autocommit = True
    return conn


def recreate_database(name: str) -> None:
    """Drop and create database ``name``; refuse unless the settings point at it."""
    from django.conf import settings

    # Reading settings starts (or joins) the embedded server; nothing is connected yet.
    configured = settings.DATABASES["default"]["NAME"]
    if configured != name:  # pragma: no cover - guard against ever dropping dev data
        raise SystemExit(f"refusing to run: settings point at database {configured!r}")
    conn = _server_connection()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def drop_database(name: str) -> None:
    from django.db import connections

    connections.close_all()
    conn = _server_connection()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_info(*, pg_settings: tuple[str, ...], code_paths: tuple[str, ...] = ()) -> dict:
    """CPUs, versions, PostgreSQL's version() and the settings named, the load average and
    the commit.
    ``git_dirty`` says whether tracked files under ``code_paths`` (default: all) differ
    from the commit."""
    import django
    from django.db import connection

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
    except (OSError, ValueError):
        nproc = os.cpu_count()
    pg = {}
    with connection.cursor() as cur:
        cur.execute("SELECT version()")
        pg["version"] = cur.fetchone()[0]
        for setting in pg_settings:
            cur.execute(f"SHOW {setting}")
            pg[setting] = cur.fetchone()[0]
    return {
        "nproc": nproc,
        "cpu_model": model,
        "python": sys.version.split()[0],
        "django": django.get_version(),
        "postgresql": pg,
        "loadavg_at_start": os.getloadavg(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", *code_paths)),
    }

"""Production settings: development values are refused when DJANGO_DEBUG is off, and the
deployment check passes with production values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k7#Qp2v!Lr9zX4m@Wn8sT1bY6cD3fG5hJ0aE-ProductionOnly-Ze8u",
    "DJANGO_ALLOWED_HOSTS": ".mall.example.cn,mall.example.cn",
    "STRIPE_API_BASE": "stripe",
    "STRIPE_API_KEY": "sk_live_example",
}


def _run(args, **overrides):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "STRIPE_"))}
    env.update(GOOD)
    env.update(overrides)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_in_production_mode():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("overrides", "says"), [
    ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": "dev-only-insecure-key-change-me-in-production-0123456789"},
     "DJANGO_SECRET_KEY"),
    ({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS"),
    ({"DJANGO_ALLOWED_HOSTS": "*"}, "DJANGO_ALLOWED_HOSTS"),
    ({"STRIPE_API_KEY": "sk_test_abc"}, "sk_test_"),
])
def test_development_values_are_refused_without_debug(overrides, says):
    result = _run(["check"], **overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and says in result.stderr


def test_a_test_key_against_the_local_server_is_fine():
    result = _run(["check"], STRIPE_API_BASE="http://127.0.0.1:8420",
                  STRIPE_API_KEY="sk_test_local_platform")
    assert result.returncode == 0, result.stderr


def test_development_stays_the_default_of_manage_py():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_"))}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

"""Rules that live in one place: pages, API, selectors and services call it instead of
computing it again (a second copy drifts)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from lending.models import ScheduleLine

ROOT = Path(__file__).resolve().parent.parent
# principal - principal_paid, in Python or as an aggregate over the lines
UNPAID_PRINCIPAL = re.compile(r"principal\s*-\s*\S*principal_paid|Sum\(\"(lines__)?principal_paid")


def _sources(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" not in path.parts and "tests" not in path.parts:
            yield path


def test_unpaid_principal_is_computed_in_lending_models_only():
    copies = [f"{path.relative_to(ROOT)}:{n}"
              for app in ("lending", "payments", "federation")
              for path in _sources(app) if path != ROOT / "lending" / "models.py"
              for n, line in enumerate(path.read_text().splitlines(), 1)
              if UNPAID_PRINCIPAL.search(line)]
    assert copies == []


def test_a_lines_unpaid_principal():
    line = ScheduleLine(principal=Decimal("100.00"), principal_paid=Decimal("33.34"))
    assert line.unpaid_principal == Decimal("66.66")


def test_the_payments_api_imports_no_page_views():
    modules = sorted((ROOT / "payments" / "api").glob("*.py"))
    assert modules
    for path in modules:
        source = path.read_text()
        assert not re.search(r"from payments\.\w*views import|import payments\.\w*views",
                             source), path.name

"""The apps import one another only in the directions docs/architecture.md allows: the
contracts in pyproject.toml ([tool.importlinter]), checked by import-linter."""

from __future__ import annotations

import os
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=os.fspath(ROOT / "pyproject.toml"),
                        no_cache=True) == 0

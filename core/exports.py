"""Exports that people open in a spreadsheet: cells are never read as formulas.

A product, shop or bank name is typed by a user. Written as it is into a CSV or Excel
export, a name such as ``=HYPERLINK("http://…","点我")`` becomes a live formula in the
spreadsheet of the bank employee who opens the file (CSV/formula injection). Every export
meant for people writes its cells through this module:

- CSV (``csv_writer``): a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return gets a leading apostrophe, which spreadsheets take as "this is text".
  Plain numbers (``-12.50``) are left alone: they are not formulas.
- Excel (``xlsx_append``): every text cell is stored as text, never as a formula, so the
  name reads exactly as typed.

Machine files (the settlement payout file a bank's core system reads) keep exact values
and do not use this module; see docs/operations.md.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text is prefixed with an apostrophe when
    it starts like a formula; numbers and everything else pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) \
            and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out, **kwargs) -> _SafeWriter:
    """``csv.writer`` for files people open: every cell goes through ``safe_cell``."""
    kwargs.setdefault("lineterminator", "\n")
    return _SafeWriter(out, **kwargs)


def xlsx_append(ws, row: Iterable[Any]) -> None:
    """Append a row to an openpyxl worksheet; text cells stay text (openpyxl would store a
    string that starts with ``=`` as a formula)."""
    values = list(row)
    ws.append(values)
    for cell, value in zip(ws[ws.max_row], values, strict=False):
        if isinstance(value, str):
            cell.data_type = "s"

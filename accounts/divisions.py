"""China's administrative divisions: loading the shipped data file.

``accounts/data/divisions.csv.gz`` holds the National Bureau of Statistics' division codes
(2023 edition: 31 provinces, 342 cities, 2,978 counties, 41,352 townships) as
``code,name,parent``, taken from the ``china-division`` data package (public domain,
WTFPL). A newer edition is loaded with ``manage.py divisions_load FILE``: rows are
inserted or renamed by code, never deleted (addresses point at them).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "divisions.csv.gz"
LEVEL_BY_LENGTH = {2: 1, 4: 2, 6: 3, 9: 4, 12: 5}

# Placeholders a city level carries under municipalities and for counties governed
# directly by a province: not part of a written address.
UNWRITTEN = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


def read_rows(path: Path = DATA_FILE) -> list[tuple[str, str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [(code, name, parent) for code, name, parent in reader]


def load(division_model, path: Path = DATA_FILE, *, batch: int = 5000) -> int:
    """Insert or rename every division of the file (parents first); returns the count.
    Takes the model as an argument so that a migration can pass its historical one."""
    rows = sorted(read_rows(path), key=lambda row: (len(row[0]), row[0]))
    objects = [division_model(code=code, name=name, level=LEVEL_BY_LENGTH[len(code)],
                              parent_id=parent or None) for code, name, parent in rows]
    for start in range(0, len(objects), batch):
        division_model.objects.bulk_create(
            objects[start:start + batch], update_conflicts=True,
            unique_fields=["code"], update_fields=["name", "level", "parent"])
    return len(objects)

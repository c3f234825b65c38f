"""Writes of the federation's traffic data: moving buffered events into the table,
the daily roll-ups, retention, and the log of uses of personal behaviour data.

- ``flush.events_flush``: the Redis buffer (``federation.recorder``) into ``Event``, one
  COPY per batch, exactly once (a named in-flight batch, recorded in the COPY's
  transaction); a lock keeps flushes from overlapping.
- ``rollups``: the ``Daily*Stat`` rows, counted incrementally past a watermark
  (``rollup_recent``) or rebuilt for a day (``rollup_day``) in one transaction;
  idempotent, concurrent runs wait for each other (an advisory lock).
- ``retention.retention_enforce``: what the data catalogue says is past its time is
  deleted.
- ``data_use``: a use of one person's behaviour data is allowed only for a purpose the
  catalogue lists (credit: with the person's consent to that bank) and is logged.

Local days (the platform's time zone) are in ``_common``. Callers import from this
package.
"""

from federation.services._common import day_bounds, local_day, local_zone
from federation.services.data_use import BehaviourSummary, behaviour_for_credit, data_use_log
from federation.services.flush import (
    COPY_COLUMNS,
    INFLIGHT_BATCH_KEY,
    INFLIGHT_KEY,
    LOCK_KEY,
    LOCK_SECONDS,
    FlushResult,
    events_flush,
    resolve,
    write_batch,
    write_events,
)
from federation.services.retention import retention_enforce
from federation.services.rollups import (
    ROLLUP_CHUNK,
    ROLLUP_LOCK,
    ROLLUP_MODELS,
    rollup_day,
    rollup_new_events,
    rollup_range,
    rollup_recent,
)

__all__ = [
    "COPY_COLUMNS",
    "INFLIGHT_BATCH_KEY",
    "INFLIGHT_KEY",
    "LOCK_KEY",
    "LOCK_SECONDS",
    "ROLLUP_CHUNK",
    "ROLLUP_LOCK",
    "ROLLUP_MODELS",
    "BehaviourSummary",
    "FlushResult",
    "behaviour_for_credit",
    "data_use_log",
    "day_bounds",
    "events_flush",
    "local_day",
    "local_zone",
    "resolve",
    "retention_enforce",
    "rollup_day",
    "rollup_new_events",
    "rollup_range",
    "rollup_recent",
    "write_batch",
    "write_events",
]

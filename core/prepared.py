"""A query of a hot path built and compiled once per process, then run with new values.

Building a queryset (filters, annotations, subqueries, ``select_related``) and compiling it
to SQL costs the same Python work on every call, however small the rows: in a checkout it
was more than half of the client's CPU. ``PreparedQuery`` takes a function that builds the
queryset from named values, compiles it once, and from then on sends the same SQL text with
the values in their places, and turns the rows into model instances (with their related
rows and annotations) as the ORM itself does::

    CART_LINES = PreparedQuery(
        lambda cart_id, now: CartItem.objects.filter(cart_id=cart_id, added_at__lte=now)
        .select_related("sku__product"),
        cart_id=int, now=datetime)

    items = CART_LINES.fetch(cart_id=cart.pk, now=timezone.now())

The rules stay where they are (the builder calls the selectors' expressions). Whatever
varies between calls must be a named value: on compiling, the builder runs twice with
different stand-in values, and a value of its own that differs between the two builds
(``timezone.now()`` inside it) is refused (``ImproperlyConfigured``); a setting the
builder reads is read once per process, so pass it in if it may change. Values go to the
database as given, without the preparation a lookup would apply: pass ids, times and text
as the columns hold them. The statement runs through Django's cursor, so execute
wrappers, debug query logging and the connection's search path apply as to any query;
``select_for_update`` still refuses to run outside a transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import (  # type: ignore[attr-defined]  # not in the stubs
    get_related_populators,
)
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)

_BASE_INT = -(2**52)


def _stand_in(kind: type, index: int, round_: int) -> Any:
    """A value of ``kind`` that no real query uses, distinct per parameter and per round."""
    n = index * 2 + round_ + 1
    if kind is bool:
        raise ImproperlyConfigured("A prepared query cannot take a bool parameter (True and "
                                   "False are too common to find in the query); build two.")
    if kind is int:
        return _BASE_INT - n
    if kind is str:
        return f"\x1fprepared-{n}\x1f"
    if kind is datetime:
        return datetime(1901, 1, 1, tzinfo=UTC) + timedelta(seconds=n, microseconds=n)
    if kind is date:
        return date(1901, 1, 1) + timedelta(days=n)
    if kind is Decimal:
        return Decimal(_BASE_INT - n)
    raise ImproperlyConfigured(f"A prepared query cannot take a parameter of type {kind!r}.")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    slots: tuple[tuple[bool, Any], ...]  # (is a named value, its name or the constant)
    compiler: Any
    init_list: list[str]
    model_slice: slice
    related_populators: list
    annotation_col_map: dict[str, int]
    converters: dict
    for_update: bool
    db: str


class PreparedQuery(Generic[M]):
    """``build(**values)`` returns the queryset; ``fetch(**values)`` its model instances."""

    def __init__(self, build: Callable[..., QuerySet[M]], **params: type) -> None:
        self.build = build
        self.params = params
        self._compiled: _Compiled | None = None

    def _compile(self) -> _Compiled:
        rounds = []
        for round_ in (0, 1):
            stand_ins = {name: _stand_in(kind, i, round_)
                         for i, (name, kind) in enumerate(self.params.items())}
            queryset = self.build(**stand_ins)
            compiler = queryset.query.get_compiler(using=queryset.db)
            sql, values = compiler.as_sql()
            rounds.append((stand_ins, queryset, compiler, sql, list(values)))
        (first, queryset, compiler, sql, values), (second, _qs, _c, sql2, values2) = rounds
        if sql != sql2 or len(values) != len(values2):
            raise ImproperlyConfigured(f"{self.build!r} builds a different query each time.")
        slots: list[tuple[bool, Any]] = []
        for value, value2 in zip(values, values2, strict=True):
            name = next((n for n, v in first.items() if _same(v, value)), None)
            name2 = next((n for n, v in second.items() if _same(v, value2)), None)
            if name != name2 or (name is None and not _same(value, value2)):
                raise ImproperlyConfigured(
                    f"{self.build!r} puts a value into its query that is not one of its "
                    f"parameters and changes between calls ({value!r}, then {value2!r}).")
            slots.append((True, name) if name is not None else (False, value))
        missing = set(self.params) - {s for named, s in slots if named}
        if missing:
            raise ImproperlyConfigured(f"{self.build!r} does not use {sorted(missing)}.")
        if compiler.has_extra_select or queryset._known_related_objects:  # type: ignore[attr-defined]
            raise ImproperlyConfigured(f"{self.build!r}: extra select columns and related "
                                       "managers' querysets are not supported; filter on "
                                       "the foreign key instead.")
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        model_slice = slice(fields[0], fields[-1] + 1)
        return _Compiled(
            sql=sql, slots=tuple(slots), compiler=compiler,
            init_list=[f[0].target.attname for f in select[model_slice]],
            model_slice=model_slice,
            related_populators=get_related_populators(klass_info, select, queryset.db),
            annotation_col_map=dict(compiler.annotation_col_map or {}),
            converters=compiler.get_converters([s[0] for s in select[:compiler.col_count]]),
            for_update=queryset.query.select_for_update, db=queryset.db)

    def fetch(self, **values: Any) -> list[M]:
        """The rows for ``values`` (every parameter named at construction), as model
        instances with their ``select_related`` rows and annotations."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile()
        if values.keys() != self.params.keys():
            raise TypeError(f"fetch() takes exactly {sorted(self.params)}, "
                            f"not {sorted(values)}.")
        connection = connections[compiled.db]
        if compiled.for_update and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction.")
        params = [values[s] if named else s for named, s in compiled.slots]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows: Any = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        model = compiled.compiler.klass_info["model"]
        out = []
        for row in rows:
            obj = model.from_db(compiled.db, compiled.init_list, row[compiled.model_slice])
            for populator in compiled.related_populators:
                populator.populate(row, obj)
            for name, position in compiled.annotation_col_map.items():
                setattr(obj, name, row[position])
            out.append(obj)
        return out


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (1 is not True, a stand-in int is not a Decimal)."""
    return type(a) is type(b) and a == b

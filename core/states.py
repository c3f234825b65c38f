"""Declared state machines: one shape for every stateful model.

A model with a ``status`` field declares, in its class body, which actions move a row
from which statuses to which::

    class Order(models.Model):
        status = models.CharField(choices=OrderStatus.choices, ...)
        STATES = StateMachine(
            initial=[S.PENDING_PAYMENT],
            transitions={"pay": ([S.PENDING_PAYMENT], S.PAID), ...})

Services move a row with ``Model.STATES.target(row.status, action)`` (an illegal move is
an ``IllegalTransition``, a 400 with the code ``illegal_transition``), and pages ask
``allowed(row.status)`` which actions to offer. A system check (``core.E020``-``E022``)
refuses a ``status`` field without a machine, and a machine whose statuses differ from the
field's choices; a test refuses code outside the services that assigns a status.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError

# A transition whose target is decided by the service from the row (back to the status
# before a refund request, for example) declares BACK: its possible targets are the
# machine's states it may return to, listed in ``returns_to``.
BACK = None


class IllegalTransition(ApplicationError):
    """A step the row's status does not allow (HTTP 400, code ``illegal_transition``)."""

    def __init__(self, message=None, *, code: str = "illegal_transition"):
        super().__init__(str(message or _("This cannot be done in the current state.")),
                         code=code)


@dataclass(frozen=True)
class StateMachine:
    transitions: Mapping[str, tuple[Iterable[str], str | None]]
    initial: Iterable[str] = ()
    returns_to: Iterable[str] = ()
    field: str = "status"
    _table: dict[str, tuple[frozenset[str], str | None]] = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        table = {action: (frozenset(str(s) for s in sources),
                          None if target is None else str(target))
                 for action, (sources, target) in self.transitions.items()}
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "initial", tuple(str(s) for s in self.initial))
        object.__setattr__(self, "returns_to", tuple(str(s) for s in self.returns_to))

    @property
    def table(self) -> dict[str, tuple[frozenset[str], str | None]]:
        """action -> (the statuses it may start from, the status it leads to or BACK)."""
        return self._table

    @property
    def states(self) -> set[str]:
        found = set(self.initial) | set(self.returns_to)
        for sources, target in self._table.values():
            found |= sources
            if target is not None:
                found.add(target)
        return found

    def allowed(self, current: str) -> list[str]:
        """The actions that may start from ``current``, in declaration order."""
        return [a for a, (sources, _t) in self._table.items() if current in sources]

    def can(self, current: str, action: str) -> bool:
        entry = self._table.get(action)
        return entry is not None and current in entry[0]

    def target(self, current: str, action: str, *, message=None) -> str | None:
        """The status ``action`` leads to from ``current`` (None: BACK, the service knows
        where). An unknown action is a programming error (KeyError); a known one that
        may not start from ``current`` is an ``IllegalTransition`` with ``message``."""
        sources, target = self._table[action]
        if current not in sources:
            raise IllegalTransition(message)
        return target

    def successors(self, current: str) -> set[str]:
        """Every status a row in ``current`` may move to next."""
        found: set[str] = set()
        for sources, target in self._table.values():
            if current in sources:
                found |= set(self.returns_to) if target is None else {target}
        return found


def machine_errors(model) -> list[str]:
    """What is wrong with ``model``'s declaration (empty: nothing)."""
    names = {f.name for f in model._meta.concrete_fields}
    if "status" not in names:
        return []
    machine = getattr(model, "STATES", None)
    if not isinstance(machine, StateMachine):
        return [f"{model._meta.label}.status has no declared state machine: declare "
                "STATES = core.states.StateMachine(...) in the model."]
    choices = {str(value) for value, _label in model._meta.get_field(machine.field).choices
               or ()}
    if not choices:
        return [f"{model._meta.label}.{machine.field} has no choices to check the machine "
                "against."]
    errors = []
    states = machine.states - {""}   # "": a row being made, before its first transition
    if missing := sorted(choices - states):
        errors.append(f"{model._meta.label}: statuses {missing} are in no transition and "
                      "not initial.")
    if unknown := sorted(states - choices):
        errors.append(f"{model._meta.label}: the machine names statuses {unknown} that "
                      "are not choices of the field.")
    if not machine.initial:
        errors.append(f"{model._meta.label}: the machine declares no initial status.")
    return errors

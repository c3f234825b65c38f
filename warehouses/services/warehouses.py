"""Registering warehouses and the inspection decisions (``Warehouse.STATES``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from banks.services import bank_audit, register_bank_audit
from core.writes import lock, transition
from warehouses.models import TemperatureClass, Warehouse

MAX_CAPACITY = 10**9
# Decisions that must say why.
NOTE_REQUIRED = ("reject", "suspend")


def _text(value, limit: int) -> str:
    return str(value or "").strip()[:limit]


@transaction.atomic
def warehouse_register(*, bank: Bank, actor, name: str, operator: str, address: str,
                       capacity, temperature_class: str) -> Warehouse:
    """A bank's staff register a warehouse; it waits for an inspection (pending)."""
    errors: dict[str, list[str]] = {}
    values = {"name": _text(name, 100), "operator": _text(operator, 100),
              "address": _text(address, 200)}
    for field, value in values.items():
        if not value:
            errors[field] = [_("This field is required.")]
    try:
        capacity = int(str(capacity).strip())
    except (TypeError, ValueError):
        capacity = 0
    if not 0 < capacity <= MAX_CAPACITY:
        errors["capacity"] = [_("Enter the capacity in units, a whole number above 0.")]
    if temperature_class not in TemperatureClass.values:
        errors["temperature_class"] = [_("Choose ambient, chilled, frozen or grain.")]
    if errors:
        raise ValidationError(errors)
    warehouse = Warehouse.objects.create(bank=bank, registered_by=actor, capacity=capacity,
                                         temperature_class=temperature_class, **values)
    bank_audit(bank=bank, actor=actor, action="warehouse_registered", target=warehouse,
               note=warehouse.name)
    return warehouse


register_bank_audit(Warehouse, action="warehouse_{action}")


@transaction.atomic
def warehouse_decide(*, warehouse: Warehouse, actor, action: str, note: str = "") -> Warehouse:
    """Approve or reject after the inspection, suspend or reinstate: through the declared
    transitions; a rejection or suspension says why."""
    warehouse = lock(warehouse)
    if action not in Warehouse.STATES.table:
        raise ValidationError({"action": [_("Choose approve, reject, suspend or reinstate.")]})
    note = _text(note, 300)
    if action in NOTE_REQUIRED and not note:
        raise ValidationError({"note": [_("Say why.")]})
    warehouse.inspection_note = note or warehouse.inspection_note
    warehouse.decided_by, warehouse.decided_at = actor, timezone.now()
    transition(warehouse, action, actor=actor, note=note, message=_(
        "This warehouse cannot be %(action)s now (it is %(status)s).")
        % {"action": action, "status": warehouse.get_status_display()})
    return warehouse

"""Every stateful model declares its state machine, and only services move a status."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.test.utils import isolate_apps

from core.appconfig import PlatformAppConfig
from core.errors import ApplicationError
from core.states import IllegalTransition, StateMachine, machine_errors
from orders.models import Order, OrderStatus

ROOT = Path(__file__).resolve().parent.parent
APPS = ["accounts", "admission", "banks", "catalog", "core", "federation", "lending",
        "orders", "payments", "rewards", "notifications", "recalls", "partners", "warehouses",
        "fixtures"]
WRITES = {"create", "update", "update_or_create", "get_or_create"}


def test_every_status_field_has_a_machine_matching_its_choices():
    checked = []
    for config in apps.get_app_configs():
        if isinstance(config, PlatformAppConfig):
            for model in config.get_models():
                assert machine_errors(model) == [], model
                if hasattr(model, "STATES"):
                    checked.append(model._meta.label)
    assert {"orders.Order", "orders.Checkout", "payments.Payment", "lending.Loan",
            "rewards.Redemption", "lending.LoanRepayment"} <= set(checked)


@isolate_apps("core")
def test_the_system_check_refuses_a_status_without_a_machine():
    class Ticket(models.Model):
        status = models.CharField(max_length=8, choices=[("open", "open"), ("done", "done")])

        class Meta:
            app_label = "core"

    class Job(models.Model):
        status = models.CharField(max_length=8, choices=[("open", "open"), ("done", "done"),
                                                         ("lost", "lost")])
        STATES = StateMachine(initial=["open"], transitions={
            "finish": (["open"], "done"), "archive": (["done"], "archived")})

        class Meta:
            app_label = "core"

    assert "no declared state machine" in machine_errors(Ticket)[0]
    errors = " ".join(machine_errors(Job))
    assert "['lost'] are in no transition" in errors
    assert "['archived'] that are not choices" in errors


def test_a_machine_answers_what_may_happen_next():
    machine = Order.STATES
    assert machine.allowed(OrderStatus.PENDING_PAYMENT) == ["pay", "cancel"]
    assert machine.target(OrderStatus.PAID, "ship") == OrderStatus.SHIPPED
    assert machine.target(OrderStatus.REFUND_REQUESTED, "reject_refund") is None  # BACK
    with pytest.raises(IllegalTransition) as caught:
        machine.target(OrderStatus.CANCELLED, "ship")
    assert isinstance(caught.value, ApplicationError)
    assert caught.value.code == "illegal_transition"
    with pytest.raises(KeyError):
        machine.target(OrderStatus.PAID, "teleport")
    assert OrderStatus.PAID in machine.successors(OrderStatus.REFUND_REQUESTED)
    assert machine.successors(OrderStatus.REFUNDED) == set()


def _is_service_module(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return ("services" in parts or path.name == "services.py"
            or parts[:2] == ("payments", "settlement.py") or parts[:2] == ("payments",
                                                                              "settlement"))


def status_writes(path: Path, model_names: set[str]) -> list[int]:
    """Lines of ``path`` that assign ``.status``, or give ``status=`` to a write (create,
    update...) or to a model's constructor."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(sub, ast.Attribute) and sub.attr == "status"
                   for t in targets for sub in ast.walk(t)):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and any(kw.arg == "status" for kw in node.keywords):
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr in WRITES) or (
                    isinstance(func, ast.Name) and func.id in model_names):
                lines.append(node.lineno)
    return sorted(lines)


def test_only_services_assign_a_status():
    model_names = {m.__name__ for m in apps.get_models()}
    found = [f"{path.relative_to(ROOT)}:{line}"
             for app in APPS for path in sorted((ROOT / app).rglob("*.py"))
             if "migrations" not in path.parts and "tests" not in path.parts
             and not _is_service_module(path)
             for line in status_writes(path, model_names)]
    assert found == []


def row_status_assignments(path: Path) -> list[int]:
    """Lines of ``path`` that set ``.status`` on a row (``x.status = ...``)."""
    return sorted(node.lineno for node in ast.walk(ast.parse(path.read_text()))
                  if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign)
                  and any(isinstance(sub, ast.Attribute) and sub.attr == "status"
                          for t in (node.targets if isinstance(node, ast.Assign)
                                    else [node.target]) for sub in ast.walk(t)))


def test_services_move_a_row_only_through_the_write_helper():
    """A service changes one row's status with ``core.writes.transition`` (lock, declared
    machine, audit, effects), never by setting it: new rows get theirs in the constructor
    and set-based writes (``update(status=...)``) keep to the machine's statuses."""
    found = [f"{path.relative_to(ROOT)}:{line}"
             for app in APPS for path in sorted((ROOT / app).rglob("*.py"))
             if "migrations" not in path.parts and "tests" not in path.parts
             and app != "fixtures" and path != ROOT / "core" / "writes.py"
             for line in row_status_assignments(path)]
    assert found == []


def test_the_scan_finds_a_status_written_by_a_view(tmp_path):
    view = tmp_path / "views.py"
    view.write_text("def v(order):\n    order.status = 'paid'\n"
                    "    Order.objects.filter(pk=1).update(status='paid')\n"
                    "    return Response(data, status=201)\n")
    assert status_writes(view, {"Order"}) == [2, 3]

"""``core.writes.transition``: the one way a service moves a status, audited in one shape."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from admission.models import DossierEvent
from banks.models import Bank, BankEvent
from catalog.models import Merchant, Product
from catalog.services import merchant_transition, product_transition
from core import writes
from core.states import IllegalTransition
from core.writes import Change, lock, transition
from tests.catalog_factories import approved_merchant, listed_product

pytestmark = pytest.mark.django_db


def trail(row):
    return list(BankEvent.objects.filter(detail__object=f"{row._meta.label_lower}:{row.pk}")
                .order_by("id").values_list("action", "actor_id", "detail__changes__status"))


def test_a_transition_saves_writes_one_event_and_runs_effects_after_commit(
        province, django_capture_on_commit_callbacks):
    merchant, _dossier = approved_merchant(province.bank_a, province.a_manager)
    seen: list[Change] = []
    effects: list[str] = []
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        row = lock(merchant)
        change = transition(row, "suspend", actor=province.a_manager, note=" 资质到期 ",
                            audit=seen.append, save_fields=(),
                            after_commit=[lambda: effects.append("sent")])
        assert effects == []  # not before the commit
    assert effects == ["sent"]
    assert Merchant.objects.get(pk=merchant.pk).status == "suspended"
    assert [(c.action, c.before, c.after, c.actor_id, c.note) for c in seen] == [
        ("suspend", "approved", "suspended", province.a_manager.pk, "资质到期")]
    assert change is seen[0]


def test_an_illegal_move_writes_nothing(province):
    merchant, _dossier = approved_merchant(province.bank_a, province.a_manager)
    before = trail(merchant)
    with pytest.raises(IllegalTransition) as caught, transaction.atomic():
        transition(lock(merchant), "approve", message="已经批准")
    assert str(caught.value.message) == "已经批准"
    assert caught.value.code == "illegal_transition"
    assert Merchant.objects.get(pk=merchant.pk).status == "approved"
    assert trail(merchant) == before


def test_a_model_without_a_registered_writer_cannot_move(province, monkeypatch):
    merchant, _dossier = approved_merchant(province.bank_a, province.a_manager)
    monkeypatch.delitem(writes._writers, Merchant)
    with pytest.raises(RuntimeError, match="no audit writer"), transaction.atomic():
        transition(lock(merchant), "suspend")
    assert Merchant.objects.get(pk=merchant.pk).status == "approved"


def test_a_merchant_moved_outside_admission_is_on_its_banks_trail(province):
    merchant, _dossier = approved_merchant(province.bank_a, province.a_manager)
    merchant_transition(merchant=merchant, action="suspend", reason="整改",
                        actor=province.a_manager)
    assert merchant.status == "suspended"  # the caller's copy follows the row
    assert trail(merchant) == [("merchant_suspend", province.a_manager.pk,
                                ["approved", "suspended"])]


def test_admission_writes_the_merchants_moves_on_its_dossier_only(province):
    merchant, dossier = approved_merchant(province.bank_a, province.a_manager)
    with schema_context(province.bank_a.schema_name):
        moves = list(DossierEvent.objects.filter(dossier=dossier).order_by("id")
                     .values_list("action", "from_status", "to_status"))
    assert ("start_review", "applied", "under_review") in moves
    assert moves[-1] == ("approve", "under_review", "approved")
    assert trail(merchant) == []


def test_a_listing_without_review_is_approved_by_the_platform_on_the_trail(province):
    """Where the bank does not review listings, submitting lists at once: the merchant's
    submission and the platform's approval are both on the trail, in order."""
    Bank.objects.filter(pk=province.bank_a.pk).update(requires_listing_review=False)
    merchant, _dossier = approved_merchant(province.bank_a, province.a_manager)
    product = listed_product(merchant)
    assert Product.objects.get(pk=product.pk).status == "listed"
    assert [(a, who, s) for a, who, s in trail(product)] == [
        ("product_submit", None, ["draft", "pending_review"]),
        ("product_approve_listing", None, ["pending_review", "listed"])]


def test_a_product_cannot_take_a_step_its_status_does_not_allow(province):
    merchant, _dossier = approved_merchant(province.bank_a, province.a_manager)
    product = listed_product(merchant)
    events = trail(product)
    with pytest.raises(IllegalTransition):
        product_transition(product=product, action="approve_listing")
    assert Product.objects.get(pk=product.pk).status == "listed"
    assert trail(product) == events

"""Featuring a merchant and deciding a product's listing are written, with the staff
member who did it, on the merchant's dossier history, through the page and the API."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from admission.models import DossierEvent
from banks.models import Bank
from catalog.services import SkuSpec, product_create, product_transition
from tests.catalog_factories import approved_merchant, category

pytestmark = pytest.mark.django_db


def _events(bank, dossier, action):
    with schema_context(bank.schema_name):
        return list(DossierEvent.objects.filter(dossier_id=dossier.pk, action=action)
                    .values_list("actor_id", "reason"))


def _pending_product(province, merchant, name):
    Bank.objects.filter(pk=province.bank_a.pk).update(requires_listing_review=True)
    merchant.bank.refresh_from_db()
    product = product_create(merchant=merchant, name=name, category=category(),
                             origin_county="甲县",
                             skus=[SkuSpec(spec="5kg", unit="袋", price="30", stock=5)])
    product_transition(product=product, action="submit")
    assert product.status == "pending_review"
    return product


def test_featuring_a_merchant_is_on_its_dossier_history(province, client_on):
    merchant, dossier = approved_merchant(province.bank_a, province.a_credit)
    staff = client_on(province.bank_a, province.a_manager)
    url = f"/console/merchants/{merchant.pk}/"
    assert staff.post(f"{url}feature/", {"featured": "1"}).status_code == 302
    assert staff.post(f"{url}feature/", {"featured": "0"}).status_code == 302
    assert _events(province.bank_a, dossier, "feature") == [(province.a_manager.pk, "")]
    assert _events(province.bank_a, dossier, "unfeature") == [(province.a_manager.pk, "")]
    staff.cookies["django_language"] = "en"
    page = staff.get(url).content.decode()
    assert "Featured on the storefront" in page and "No longer featured" in page


def test_listing_decisions_are_on_the_dossier_history(province, client_on, api_on):
    merchant, dossier = approved_merchant(province.bank_a, province.a_credit)
    first = _pending_product(province, merchant, "待审核的米")
    second = _pending_product(province, merchant, "待审核的面")

    staff = client_on(province.bank_a, province.a_manager)
    assert staff.post(f"/console/listings/{first.pk}/approve_listing/").status_code == 302
    response = api_on(province.bank_a, province.a_credit).post(
        f"/api/v1/console/listings/{second.pk}/decisions/",
        {"action": "reject_listing", "reason": "图片不清楚"}, format="json")
    assert response.status_code == 200, response.json()

    assert _events(province.bank_a, dossier, "approve_listing") == [
        (province.a_manager.pk, "待审核的米")]
    assert _events(province.bank_a, dossier, "reject_listing") == [
        (province.a_credit.pk, "待审核的面: 图片不清楚")]
    staff.cookies["django_language"] = "en"
    page = staff.get(f"/console/merchants/{merchant.pk}/").content.decode()
    assert "Listing approved" in page and "Listing rejected" in page


def test_a_refused_listing_decision_writes_nothing(province, client_on):
    merchant, dossier = approved_merchant(province.bank_a, province.a_credit)
    product = _pending_product(province, merchant, "没有理由的驳回")
    staff = client_on(province.bank_a, province.a_manager)
    staff.post(f"/console/listings/{product.pk}/reject_listing/", {"reason": ""})
    product.refresh_from_db()
    assert product.status == "pending_review"
    assert _events(province.bank_a, dossier, "reject_listing") == []

"""The demo province loads through the real services, and loading it again adds nothing."""

import pytest
from django_tenants.utils import schema_exists

from accounts.models import User
from banks.models import Bank, StaffMembership, StaffRole
from fixtures.loader import load_demo_province, province_data

pytestmark = pytest.mark.django_db


def test_demo_province_is_complete_and_idempotent(province, client_on):
    summary = load_demo_province(catalog=False)  # the catalog has its own test below
    data = province_data()
    codes = [b["code"] for b in data["banks"]]
    assert len(codes) >= 6
    assert summary.created > 0
    for code in codes:
        bank = Bank.objects.get(code=code)
        assert schema_exists(bank.schema_name)
        counties = set(bank.branches.values_list("county", flat=True))
        assert 2 <= bank.branches.count() <= 3
        assert len(counties) == bank.branches.count()  # branches in different counties
        roles = set(StaffMembership.objects.filter(bank=bank).values_list("role", flat=True))
        assert roles == set(StaffRole.values)
    assert User.objects.filter(is_federation_admin=True, username__startswith="fed-").count() == 2
    assert User.objects.filter(username__in=["shopper-li", "shopper-wang", "buyer-chen"],
                               staff_membership__isnull=True).count() == 3

    banks_before = Bank.objects.count()
    users_before = User.objects.count()
    again = load_demo_province(catalog=False)
    assert again.created == 0
    assert (Bank.objects.count(), User.objects.count()) == (banks_before, users_before)


    client = client_on(Bank.objects.get(code="qinghe"))
    response = client.post("/accounts/login/", {"username": "qinghe-admin",
                                                "password": data["password"]})
    assert response.status_code == 302
    assert "青禾农商行营业部" in client.get("/console/").content.decode()


def test_demo_catalog_of_one_bank_goes_through_admission_and_is_idempotent(
        province, settings, tmp_path, client_on):
    from catalog.models import Merchant, Product
    from fixtures.catalog_demo import load_demo_catalog

    settings.MEDIA_ROOT = tmp_path  # the images are files: keep them out of .data/
    load_demo_province(catalog=False)
    bank = Bank.objects.get(code="qinghe")
    first = load_demo_catalog(banks=[bank], password=province_data()["password"])
    assert first.created > 0
    merchants = Merchant.objects.filter(bank=bank)
    statuses = set(merchants.values_list("status", flat=True))
    assert statuses == {"approved", "applied", "under_review", "suspended"}
    listed = Product.objects.filter(merchant__bank=bank, status="listed")
    assert listed.count() >= 80
    assert not listed.filter(image="").exists()
    assert not listed.filter(batches__isnull=True).exists()
    assert Product.objects.filter(merchant__bank=bank, status="pending_review").exists()
    again = load_demo_catalog(banks=[bank], password=province_data()["password"])
    assert again.created == 0
    from catalog.selectors import visible_products

    top = visible_products().filter(merchant__bank=bank).order_by("-is_featured",
                                                                   "-sales_count").first()
    assert top.name in client_on(bank).get("/").content.decode()
    suspended = merchants.get(status="suspended")
    assert client_on(bank).get(f"/shop/{suspended.pk}/").status_code == 404

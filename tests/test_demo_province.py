"""The demo province loads through the real services, and loading it again adds nothing."""

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_exists

from accounts.models import User
from banks.models import Bank, StaffMembership, StaffRole
from fixtures.loader import load_demo_province, province_data

pytestmark = pytest.mark.django_db


def test_demo_province_is_complete_and_idempotent(province, client_on):
    summary = load_demo_province()
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
    again = load_demo_province()
    assert again.created == 0
    assert (Bank.objects.count(), User.objects.count()) == (banks_before, users_before)

    call_command("load_demo")  # the command the run uses, also idempotent
    assert Bank.objects.count() == banks_before

    client = client_on(Bank.objects.get(code="qinghe"))
    response = client.post("/accounts/login/", {"username": "qinghe-admin",
                                                "password": data["password"]})
    assert response.status_code == 302
    assert "青禾农商行营业部" in client.get("/console/").content.decode()

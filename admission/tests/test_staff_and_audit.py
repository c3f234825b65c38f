"""A bank admin runs the bank's staff from the browser or the API (grant by mobile number
or username, change, revoke), the federation runs its own admins, and every change is on
an audit trail that the bank's admins read, filter and download."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from admission.models import DossierEvent
from banks.models import BankEvent, StaffMembership, StaffRole
from tests.catalog_factories import approved_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer():
    return get_user_model().objects.create_user("t-newcomer", phone="13600000077",
                                                display_name="新同事")


def _staff_rows():
    return sorted(StaffMembership.objects.values_list("user_id", "bank_id", "role",
                                                      "branch_id", "is_active"))


def test_a_bank_admin_grants_changes_and_revokes_a_role_on_the_page(province, client_on,
                                                                     newcomer):
    admin = client_on(province.bank_a, province.a_admin)
    page = admin.get("/console/staff/")
    assert page.status_code == 200 and "甲管理员" in page.content.decode()

    response = admin.post("/console/staff/", {"person": "13600000077",
                                              "role": StaffRole.ACCOUNT_MANAGER,
                                              "branch": province.a_branch.pk})
    assert response.status_code == 302
    membership = StaffMembership.objects.get(user=newcomer)
    assert (membership.bank_id, membership.role, membership.branch_id) == (
        province.bank_a.pk, StaffRole.ACCOUNT_MANAGER, province.a_branch.pk)
    # the new colleague can open the console at once
    assert client_on(province.bank_a, newcomer).get("/console/").status_code == 200

    prefix = f"m{membership.pk}"
    response = admin.post(f"/console/staff/{membership.pk}/", {
        f"{prefix}-role": StaffRole.CREDIT_OFFICER, f"{prefix}-branch": ""})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.role, membership.branch_id) == (StaffRole.CREDIT_OFFICER, None)

    assert admin.post(f"/console/staff/{membership.pk}/", {"revoke": "1"}).status_code == 302
    membership.refresh_from_db()
    assert membership.is_active is False
    assert client_on(province.bank_a, newcomer).get("/console/").status_code == 404

    events = list(BankEvent.objects.filter(bank=province.bank_a, actor=province.a_admin,
                                           action__startswith="staff_")
                  .order_by("id").values_list("action", "detail"))
    assert [a for a, _d in events] == ["staff_granted", "staff_changed", "staff_revoked"]
    assert events[1][1]["changes"]["role"] == ["account_manager", "credit_officer"]
    assert events[2][1]["changes"] == {"is_active": [True, False]}


def test_only_a_bank_admin_of_this_bank_may_change_staff(province, client_on, api_on,
                                                         newcomer):
    before = _staff_rows()
    manager = client_on(province.bank_a, province.a_manager)
    assert manager.get("/console/staff/").status_code == 403
    assert manager.post("/console/staff/", {"person": newcomer.username,
                                            "role": StaffRole.BANK_ADMIN}).status_code == 403
    assert api_on(province.bank_a, province.a_manager).post(
        "/api/v1/console/staff/", {"person": newcomer.username, "role": "bank_admin"},
        format="json").status_code == 403
    # another bank's admin does not even learn the page exists
    assert client_on(province.bank_a, province.b_admin).get("/console/staff/").status_code == 404
    assert api_on(province.bank_a, province.b_admin).post(
        "/api/v1/console/staff/", {"person": newcomer.username, "role": "bank_admin"},
        format="json").status_code == 404
    # nor may it touch bank A's staff rows from its own domain
    a_manager = StaffMembership.objects.get(user=province.a_manager)
    assert api_on(province.bank_b, province.b_admin).delete(
        f"/api/v1/console/staff/{a_manager.pk}/").status_code == 404
    assert api_on(province.bank_b, province.b_admin).patch(
        f"/api/v1/console/staff/{a_manager.pk}/", {"role": "bank_admin"},
        format="json").status_code == 404
    assert _staff_rows() == before


@pytest.mark.parametrize(("payload", "field"), [
    ({"person": "nobody-here", "role": "account_manager"}, "person"),
    ({"person": "t-b-manager", "role": "account_manager"}, "person"),  # bank B's staff
    ({"person": "t-newcomer", "role": "chief"}, "role"),
    ({"person": "t-newcomer", "role": "account_manager", "branch": "nowhere"}, "branch"),
    ({"person": 13600000077, "role": "account_manager"}, "person"),
])
def test_bad_grants_are_400_with_the_field_and_change_nothing(province, api_on, newcomer,
                                                              payload, field):
    before = _staff_rows()
    events = BankEvent.objects.count()
    response = api_on(province.bank_a, province.a_admin).post(
        "/api/v1/console/staff/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert _staff_rows() == before
    assert BankEvent.objects.count() == events


def test_the_api_grants_changes_and_revokes(province, api_on, newcomer):
    api = api_on(province.bank_a, province.a_admin)
    made = api.post("/api/v1/console/staff/", {"person": "13600000077", "role": "credit_officer",
                                               "branch": "hq"}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["username"], body["role"], body["branch"]) == ("t-newcomer",
                                                                "credit_officer", "hq")
    changed = api.patch(f"/api/v1/console/staff/{body['id']}/", {"role": "account_manager"},
                        format="json")
    assert changed.status_code == 200 and changed.json()["branch"] is None
    assert api.delete(f"/api/v1/console/staff/{body['id']}/").status_code == 204
    assert api.delete(f"/api/v1/console/staff/{body['id']}/").status_code == 404
    listed = api.get("/api/v1/console/staff/").json()
    assert "t-newcomer" not in [row["username"] for row in listed]


def test_the_last_bank_admin_stays(province, api_on, client_on):
    admin = StaffMembership.objects.get(user=province.a_admin)
    api = api_on(province.bank_a, province.a_admin)
    response = api.patch(f"/api/v1/console/staff/{admin.pk}/", {"role": "account_manager"},
                         format="json")
    assert response.status_code == 400 and "role" in response.json()["errors"]
    assert api.delete(f"/api/v1/console/staff/{admin.pk}/").status_code == 400
    admin.refresh_from_db()
    assert admin.is_active and admin.role == StaffRole.BANK_ADMIN


def test_revoked_staff_of_one_bank_may_join_another(province, api_on, newcomer):
    made = api_on(province.bank_b, province.b_admin).post(
        "/api/v1/console/staff/", {"person": "t-newcomer", "role": "account_manager"},
        format="json").json()
    api = api_on(province.bank_a, province.a_admin)
    assert api.post("/api/v1/console/staff/", {"person": "t-newcomer",
                                               "role": "account_manager"},
                    format="json").status_code == 400
    api_on(province.bank_b, province.b_admin).delete(f"/api/v1/console/staff/{made['id']}/")
    joined = api.post("/api/v1/console/staff/", {"person": "t-newcomer",
                                                 "role": "account_manager"}, format="json")
    assert joined.status_code == 201
    assert StaffMembership.objects.get(user=newcomer).bank_id == province.bank_a.pk


# --- the audit trail -----------------------------------------------------------------------

def test_the_audit_page_shows_who_did_what_across_the_bank(province, client_on, api_on,
                                                           newcomer):
    api_on(province.bank_a, province.a_admin).post(
        "/api/v1/console/staff/", {"person": "t-newcomer", "role": "account_manager"},
        format="json")
    merchant, dossier = approved_merchant(province.bank_a, province.a_credit)
    with schema_context(province.bank_a.schema_name):
        assert DossierEvent.objects.filter(dossier_id=dossier.pk, actor=province.a_credit).exists()
    # bank B's own trail never shows here
    api_on(province.bank_b, province.b_admin).post(
        "/api/v1/console/staff/", {"person": "t-shopper", "role": "account_manager"},
        format="json")

    admin = client_on(province.bank_a, province.a_admin)
    html = admin.get("/console/audit/").content.decode()
    assert "角色已授予" in html or "Role granted" in html
    assert merchant.name in html
    assert "t-shopper" not in html

    only_staff = admin.get("/console/audit/", {"area": "staff"}).content.decode()
    assert merchant.name not in only_staff and "t-newcomer" in only_staff
    by_credit = admin.get("/console/audit/", {"person": "t-a-credit"}).content.decode()
    assert merchant.name in by_credit and "t-newcomer" not in by_credit
    assert "t-newcomer" not in admin.get("/console/audit/",
                                         {"person": "no-such-person"}).content.decode()

    exported = admin.get("/console/audit/", {"area": "staff", "export": "csv"})
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    granted = [row for row in rows[1:] if row[4] == "t-newcomer"]
    assert len(granted) == 1 and "甲管理员" in granted[0][2]
    assert "客户经理" in granted[0][5] or "Account manager" in granted[0][5]
    assert {row[1] for row in rows[1:]} == {rows[1][1]}  # staff only

    api_rows = api_on(province.bank_a, province.a_admin).get(
        "/api/v1/console/audit/", {"area": "admission"}).json()
    assert api_rows and {row["area"] for row in api_rows} == {"admission"}
    assert merchant.name in {row["target"] for row in api_rows}


def test_the_audit_trail_is_for_the_bank_admins_and_checks_its_filters(province, client_on,
                                                                        api_on):
    assert client_on(province.bank_a, province.a_manager).get("/console/audit/").status_code \
        == 403
    assert client_on(province.bank_a, province.b_admin).get("/console/audit/").status_code \
        == 404
    admin = client_on(province.bank_a, province.a_admin)
    assert admin.get("/console/audit/", {"since": "2026-13-01"}).status_code == 400
    assert admin.get("/console/audit/", {"since": "2026-05-02",
                                         "until": "2026-05-01"}).status_code == 400
    api = api_on(province.bank_a, province.a_admin)
    assert api.get("/api/v1/console/audit/", {"area": "nowhere"}).status_code == 400
    assert api.get("/api/v1/console/audit/", {"until": "yesterday"}).status_code == 400


# --- the federation's admins ---------------------------------------------------------------

def test_federation_admins_are_granted_and_revoked_with_a_trail(province, client_on, api_on,
                                                                newcomer):
    page = client_on(None, province.fed_admin)
    assert page.post("/federation/admins/", {"person": "13600000077"}).status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.is_federation_admin
    assert page.post("/federation/admins/", {"revoke": str(newcomer.pk)}).status_code == 302
    newcomer.refresh_from_db()
    assert not newcomer.is_federation_admin
    trail = list(BankEvent.objects.filter(bank__isnull=True, actor=province.fed_admin)
                 .order_by("id").values_list("action", flat=True))
    assert trail[-2:] == ["federation_admin_granted", "federation_admin_revoked"]
    assert "新同事" in page.get("/federation/admins/").content.decode()

    api = api_on(None, province.fed_admin)
    assert api.post("/api/v1/federation/admins/", {"person": "nobody-here"},
                    format="json").status_code == 400
    made = api.post("/api/v1/federation/admins/", {"person": "t-newcomer"}, format="json")
    assert made.status_code == 201
    assert api.delete(f"/api/v1/federation/admins/{newcomer.pk}/").status_code == 204


def test_only_federation_admins_manage_them_and_the_last_one_stays(province, client_on,
                                                                   api_on, newcomer):
    assert client_on(None, province.a_admin).get("/federation/admins/").status_code == 404
    assert api_on(None, province.a_admin).post(
        "/api/v1/federation/admins/", {"person": "t-newcomer"},
        format="json").status_code == 404
    newcomer.refresh_from_db()
    assert not newcomer.is_federation_admin
    admins = list(get_user_model().objects.filter(is_federation_admin=True))
    api = api_on(None, province.fed_admin)
    for other in admins:
        if other.pk != province.fed_admin.pk:
            assert api.delete(f"/api/v1/federation/admins/{other.pk}/").status_code == 204
    response = api.delete(f"/api/v1/federation/admins/{province.fed_admin.pk}/")
    assert response.status_code == 400
    province.fed_admin.refresh_from_db()
    assert province.fed_admin.is_federation_admin


# --- customer groups ---------------------------------------------------------------------------

def test_a_customer_sets_their_own_group_on_the_profile_and_the_api(province, client_on,
                                                                    api_on, newcomer):
    page = client_on(province.bank_a, newcomer)
    response = page.post("/accounts/profile/", {"display_name": "新同事",
                                                "phone": "13600000077", "email": "",
                                                "segment": "villager"})
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.segment == "villager"
    assert page.post("/accounts/profile/", {"display_name": "新同事", "phone": "13600000077",
                                            "segment": "pirate"}).status_code == 400
    newcomer.refresh_from_db()
    assert newcomer.segment == "villager"

    api = api_on(province.bank_a, newcomer)
    body = api.patch("/api/v1/me/", {"segment": "young"}, format="json").json()
    assert (body["segment"], body["display_name"], body["phone"]) == ("young", "新同事",
                                                                      "13600000077")
    assert api.patch("/api/v1/me/", {"segment": "pirate"}, format="json").status_code == 400
    assert api.patch("/api/v1/me/", {"segment": 1}, format="json").status_code == 400
    newcomer.refresh_from_db()
    assert newcomer.segment == "young"


def test_bank_staff_record_a_customers_group_and_it_is_audited(province, client_on, api_on,
                                                               newcomer):
    desk = client_on(province.bank_a, province.a_manager)
    found = desk.get("/console/customer-group/", {"phone": "13600000077"})
    assert found.status_code == 200 and "新同事" in found.content.decode()
    assert desk.get("/console/customer-group/", {"phone": "13600000099"}).status_code == 400
    assert desk.post("/console/customer-group/", {"phone": "13600000077",
                                                  "segment": "small_business"}).status_code \
        == 302
    newcomer.refresh_from_db()
    assert newcomer.segment == "small_business"
    event = BankEvent.objects.filter(bank=province.bank_a, action="customer_group_set").latest("id")
    assert event.actor_id == province.a_manager.pk
    assert event.detail["changes"]["segment"] == ["", "small_business"]

    api = api_on(province.bank_a, province.a_manager)
    assert api.post("/api/v1/console/customer-group/", {"phone": "13600000077",
                                                         "segment": "enterprise"},
                    format="json").json()["segment"] == "enterprise"
    for bad in ({"phone": "13600000099", "segment": "villager"},
                {"phone": "13600000077", "segment": "pirate"}):
        assert api.post("/api/v1/console/customer-group/", bad,
                        format="json").status_code == 400
    # staff of another bank on this bank's domain, and shoppers: 404
    assert api_on(province.bank_a, province.b_manager).post(
        "/api/v1/console/customer-group/", {"phone": "13600000077", "segment": "villager"},
        format="json").status_code == 404
    assert client_on(province.bank_a, province.shopper).get(
        "/console/customer-group/").status_code == 404
    newcomer.refresh_from_db()
    assert newcomer.segment == "enterprise"

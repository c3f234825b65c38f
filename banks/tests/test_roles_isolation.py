"""People and roles: staff of bank A asking for anything of bank B get 404."""

import pytest
from django.core.exceptions import ValidationError

from banks.models import StaffRole
from banks.services import staff_grant

pytestmark = pytest.mark.django_db

CONSOLE_PAGES = ["/console/", "/console/branches/{branch}/"]
CONSOLE_APIS = ["/api/v1/console/branches/", "/api/v1/console/branches/{branch}/",
                "/api/v1/console/staff/"]


def paths(templates, branch):
    return [t.format(branch=branch.pk) for t in templates]


def test_staff_see_their_own_banks_console(province, client_on, api_on):
    for user in (province.a_admin, province.a_manager, province.a_credit):
        client = client_on(province.bank_a, user)
        for path in paths(CONSOLE_PAGES, province.a_branch):
            assert client.get(path).status_code == 200, (user, path)
        for path in paths(CONSOLE_APIS, province.a_branch):
            assert api_on(province.bank_a, user).get(path).status_code == 200, (user, path)


def test_console_shows_only_the_banks_own_branches_and_staff(province, client_on, api_on):
    html = client_on(province.bank_a, province.a_admin).get("/console/").content.decode()
    assert "甲县城东支行" in html and "乙农商行营业部" not in html
    staff = api_on(province.bank_a, province.a_admin).get("/api/v1/console/staff/").json()
    assert {s["username"] for s in staff} == {"t-a-admin", "t-a-manager", "t-a-credit"}
    branches = api_on(province.bank_a, province.a_admin).get(
        "/api/v1/console/branches/").json()
    assert {b["code"] for b in branches} == {"hq", "east"}


def test_staff_of_another_bank_get_404_on_every_console_page_and_api(province, client_on,
                                                                      api_on):
    # B's admin on A's domain, asking for A's things
    for path in paths(CONSOLE_PAGES, province.a_branch):
        assert client_on(province.bank_a, province.b_admin).get(path).status_code == 404
    for path in paths(CONSOLE_APIS, province.a_branch):
        response = api_on(province.bank_a, province.b_admin).get(path)
        assert response.status_code == 404
        assert set(response.json()) == {"message", "errors"}


def test_a_branch_id_of_another_bank_is_404_even_on_ones_own_domain(province, client_on,
                                                                    api_on):
    b_branch = province.b_branch.pk
    assert client_on(province.bank_a, province.a_admin).get(
        f"/console/branches/{b_branch}/").status_code == 404
    assert api_on(province.bank_a, province.a_admin).get(
        f"/api/v1/console/branches/{b_branch}/").status_code == 404


def test_shoppers_and_federation_admins_are_not_bank_staff(province, client_on, api_on):
    for user in (province.shopper, province.fed_admin):
        assert client_on(province.bank_a, user).get("/console/").status_code == 404
        assert api_on(province.bank_a, user).get(
            "/api/v1/console/branches/").status_code == 404


def test_anonymous_console_visitors_are_sent_to_log_in(province, client_on, api_on):
    response = client_on(province.bank_a).get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/console/")
    assert api_on(province.bank_a).get("/api/v1/console/branches/").status_code in (401, 403)


def test_a_person_is_staff_of_one_bank_only(province):
    with pytest.raises(ValidationError) as info:
        staff_grant(bank=province.bank_b, user=province.a_admin, role=StaffRole.BANK_ADMIN)
    assert "user" in info.value.message_dict
    with pytest.raises(ValidationError):
        staff_grant(bank=province.bank_a, user=province.a_manager,
                    role=StaffRole.ACCOUNT_MANAGER, branch=province.b_branch)
    province.a_admin.staff_membership.refresh_from_db()
    assert province.a_admin.staff_membership.bank == province.bank_a


def test_role_helper_refuses_insufficient_roles_with_403_within_the_bank(province, rf):
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from banks.permissions import require_bank_staff

    request = rf.get("/")
    request.bank = province.bank_a
    request.user = province.a_manager
    assert require_bank_staff(request).role == StaffRole.ACCOUNT_MANAGER
    with pytest.raises(PermissionDenied):
        require_bank_staff(request, (StaffRole.CREDIT_OFFICER,))
    request.user = province.a_admin  # a bank admin may do everything in the bank
    assert require_bank_staff(request, (StaffRole.CREDIT_OFFICER,)).role == "bank_admin"
    request.user = province.b_admin
    with pytest.raises(Http404):
        require_bank_staff(request, (StaffRole.CREDIT_OFFICER,))


def test_me_api_lists_roles(province, api_on):
    body = api_on(province.bank_a, province.a_credit).get("/api/v1/me/").json()
    assert body["username"] == "t-a-credit"
    assert any("甲县农村商业银行" in role for role in body["roles"])
    assert api_on(None, province.fed_admin).get("/api/v1/me/").json()["is_federation_admin"]

"""Onboarding a bank: the service, the management command, the API and the console page."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django_tenants.utils import schema_context, schema_exists

from banks.models import Bank, BankEvent, Branch, Domain
from banks.services import BranchSpec, bank_onboard

pytestmark = pytest.mark.django_db

HQ = BranchSpec(code="hq", name="丙农商行营业部", county="丙县", address="丙县大街 1 号",
                opening_hours="周一至周五 08:30-17:00")
EAST = BranchSpec(code="east", name="丙县东门支行", county="丙县东乡", address="东门路 3 号")


def counts():
    return (Bank.objects.count(), Domain.objects.count(), Branch.objects.count())


def test_onboard_creates_bank_schema_domain_branches_and_seeds_tenant_apps(province):
    from rewards.models import PointsProgramme

    result = bank_onboard(code="bank-c", name="丙县农村商业银行", short_name="丙农商行",
                          branches=[HQ, EAST], acting_user=province.fed_admin)
    bank = result.bank
    assert result.created
    assert bank.schema_name == "bank_bank_c"
    assert schema_exists("bank_bank_c")
    assert list(bank.domains.values_list("domain", "is_primary")) == [
        ("bank-c.localhost", True)]
    assert sorted(bank.branches.values_list("code", flat=True)) == ["east", "hq"]
    assert bank.branches.get(code="hq").opening_hours == "周一至周五 08:30-17:00"
    with schema_context(bank.schema_name):
        assert PointsProgramme.objects.get().name == "丙农商行积分"
    event = BankEvent.objects.get(bank=bank)
    assert (event.action, event.actor) == ("onboarded", province.fed_admin)


def test_onboarding_again_is_safe_and_adds_only_what_is_missing(province):
    first = bank_onboard(code="bank-c", name="丙县农村商业银行", branches=[HQ])
    again = bank_onboard(code="bank-c", name="丙县农村商业银行", branches=[HQ, EAST],
                         domains=["bank-c.localhost", "www.bingxian-bank.cn"])
    assert not again.created
    assert again.bank.pk == first.bank.pk
    assert again.added_branches == ["east"]
    assert again.added_domains == ["www.bingxian-bank.cn"]
    assert again.bank.domains.get(domain="bank-c.localhost").is_primary
    assert not again.bank.domains.get(domain="www.bingxian-bank.cn").is_primary
    third = bank_onboard(code="bank-c", name="丙县农村商业银行", branches=[HQ, EAST])
    assert (third.created, third.added_branches, third.added_domains) == (False, [], [])
    assert Bank.objects.filter(code="bank-c").count() == 1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"code": "bank-a", "name": "另一家银行"}, "code"),            # code of another bank
    ({"code": "bank-x", "name": "甲县农村商业银行"}, "name"),      # name of another bank
    ({"code": "bank-x", "name": "某银行", "domains": ["bank-b.localhost"]}, "domains"),
    ({"code": "bank-x", "name": "某银行", "domains": ["localhost"]}, "domains"),  # portal
    ({"code": "bank-x", "name": "某银行", "domains": ["not a host"]}, "domains"),
    ({"code": "bank-x", "name": "某银行", "domains": ["a.cn", "a.cn"]}, "domains"),
    ({"code": "Bank X", "name": "某银行"}, "code"),
    ({"code": "x", "name": "某银行"}, "code"),
    ({"code": "admin", "name": "某银行"}, "code"),
    ({"code": "bank-x", "name": "   "}, "name"),
    ({"code": "bank-x", "name": "某银行", "brand_color": "green"}, "brand_color"),
    ({"code": "bank-x", "name": "某银行",
      "branches": [BranchSpec(code="hq", name="", county="", address="")]}, "branches"),
    ({"code": "bank-x", "name": "某银行", "branches": [HQ, HQ]}, "branches"),
    ({"code": "bank-x", "name": "某银行",
      "branches": [BranchSpec(code="主", name="a", county="b", address="c")]}, "branches"),
])
def test_bad_onboarding_input_is_refused_and_creates_nothing(province, kwargs, field):
    before = counts()
    with pytest.raises(ValidationError) as info:
        bank_onboard(**kwargs)
    assert field in info.value.message_dict
    assert counts() == before
    assert not schema_exists("bank_bank_x")


def test_a_failure_after_the_schema_was_made_leaves_nothing_behind(province, monkeypatch):
    def broken_create(*args, **kwargs):
        raise IntegrityError("simulated failure while adding a branch")

    monkeypatch.setattr(Branch.objects, "create", broken_create)
    before = counts()
    with pytest.raises(IntegrityError):
        bank_onboard(code="bank-d", name="丁县农村商业银行", branches=[HQ])
    assert counts() == before
    assert not schema_exists("bank_bank_d")


def test_management_command_onboards_and_reports_bad_input(province, capsys):
    call_command("onboard_bank", "--code", "bank-e", "--name", "戊县农村商业银行",
                 "--branch", "hq|戊农商行营业部|戊县|戊县大街 5 号|周一至周日 08:30-17:30")
    assert "Onboarded" in capsys.readouterr().out
    bank = Bank.objects.get(code="bank-e")
    assert bank.branches.get().opening_hours == "周一至周日 08:30-17:30"
    call_command("onboard_bank", "--code", "bank-e", "--name", "戊县农村商业银行")
    assert "Already on the platform" in capsys.readouterr().out
    with pytest.raises(CommandError, match="code: "):
        call_command("onboard_bank", "--code", "bank-e", "--name", "别的名字")
    with pytest.raises(CommandError, match="code|name|county|address"):
        call_command("onboard_bank", "--code", "bank-f", "--name", "x", "--branch", "hq|only")


# --- API -------------------------------------------------------------------------------

PAYLOAD = {
    "code": "bank-g", "name": "庚县农村商业银行", "short_name": "庚农商行",
    "branches": [{"code": "hq", "name": "庚农商行营业部", "county": "庚县",
                  "address": "庚县大街 7 号", "opening_hours": "周一至周五 09:00-17:00"}],
}


def test_api_onboards_a_bank_for_federation_admins(province, api_on):
    api = api_on(None, province.fed_admin)
    response = api.post("/api/v1/federation/banks/", PAYLOAD, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["code"] == "bank-g"
    assert body["domains"] == ["bank-g.localhost"]
    assert [b["code"] for b in body["branches"]] == ["hq"]
    assert schema_exists("bank_bank_g")
    again = api.post("/api/v1/federation/banks/", PAYLOAD, format="json")
    assert again.status_code == 200
    assert Bank.objects.filter(code="bank-g").count() == 1
    listed = api.get("/api/v1/federation/banks/").json()
    assert {"bank-a", "bank-b", "bank-g"} <= {b["code"] for b in listed}


@pytest.mark.parametrize(("payload", "field"), [
    ({**PAYLOAD, "code": "bank-a"}, "code"),
    ({**PAYLOAD, "code": ""}, "code"),
    ({"name": "无代码银行"}, "code"),
    ({**PAYLOAD, "domains": ["bank-a.localhost"]}, "domains"),
    ({**PAYLOAD, "branches": [{"code": "hq"}]}, "branches"),
    ({**PAYLOAD, "branches": "not a list"}, "branches"),
])
def test_api_bad_input_is_a_400_with_field_messages_and_changes_nothing(
        province, api_on, payload, field):
    before = counts()
    response = api_on(None, province.fed_admin).post("/api/v1/federation/banks/", payload,
                                                     format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"]
    assert body["message"]
    assert counts() == before


def test_api_onboarding_is_hidden_from_everyone_but_federation_admins(province, api_on):
    for user in (province.a_admin, province.shopper):
        response = api_on(None, user).post("/api/v1/federation/banks/", PAYLOAD, format="json")
        assert response.status_code == 404
    assert api_on(None).post("/api/v1/federation/banks/", PAYLOAD,
                             format="json").status_code in (401, 403)
    # not on a bank's domain either, even for a federation admin
    response = api_on(province.bank_a, province.fed_admin).post(
        "/api/v1/federation/banks/", PAYLOAD, format="json")
    assert response.status_code == 404
    assert not Bank.objects.filter(code="bank-g").exists()


# --- federation console page ------------------------------------------------------------

def branch_rows(rows: list[dict]) -> dict:
    """The onboarding page's branch table as a browser posts it."""
    data = {"branches-TOTAL_FORMS": str(len(rows)), "branches-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        for name in ("code", "name", "county", "address", "opening_hours", "phone"):
            data[f"branches-{index}-{name}"] = row.get(name, "")
    return data


def test_console_page_onboards_a_bank(province, client_on):
    first_admin = get_user_model().objects.create_user("t-h-admin", phone="13900000088")
    client = client_on(None, province.fed_admin)
    assert client.get("/federation/banks/new/").status_code == 200
    page = client.get("/federation/banks/new/").content.decode()
    assert 'name="branches-0-code"' in page and 'name="first_admin"' in page
    response = client.post("/federation/banks/new/", {
        "code": "bank-h", "name": "辛县农村商业银行", "brand_color": "#1f7a4d",
        "domains": "", "first_admin": "13900000088",
        **branch_rows([{"code": "hq", "name": "辛农商行营业部", "county": "辛县",
                        "address": "辛县大街 9 号", "opening_hours": "周一至周日 08:30-17:30"},
                       {}]),
    })
    assert response.status_code == 302
    bank = Bank.objects.get(code="bank-h")
    assert bank.branches.get().name == "辛农商行营业部"  # the empty row is skipped
    assert bank.staff.get(user=first_admin).role == "bank_admin"
    assert BankEvent.objects.filter(bank=bank, action="staff_granted",
                                    actor=province.fed_admin).exists()
    assert "辛县农村商业银行" in client.get("/federation/").content.decode()


def test_console_page_shows_errors_and_creates_nothing(province, client_on):
    client = client_on(None, province.fed_admin)
    before = counts()
    response = client.post("/federation/banks/new/", {
        "code": "bank-a", "name": "冒名银行", "brand_color": "#1f7a4d",
        **branch_rows([{"code": "hq", "name": "only two"}]),
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert "errorlist" in html
    assert counts() == before


def test_console_pages_are_404_for_non_admins(province, client_on):
    for user in (province.a_admin, province.shopper):
        assert client_on(None, user).get("/federation/").status_code == 404
        assert client_on(None, user).get("/federation/banks/new/").status_code == 404
    anonymous = client_on(None).get("/federation/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_api_nested_errors_say_which_branch_and_field(province, api_on):
    response = api_on(None, province.fed_admin).post(
        "/api/v1/federation/banks/", {**PAYLOAD, "branches": [{"code": "hq"}]}, format="json")
    assert response.status_code == 400
    messages = response.json()["errors"]["branches"]
    assert any(m.startswith("[0].name: ") for m in messages)
    assert any(m.startswith("[0].county: ") for m in messages)

"""One account per person, valid on every storefront; registration, login, profile."""

from urllib.parse import unquote

import pytest

from accounts.models import Consent, User
from accounts.selectors import has_consent

pytestmark = pytest.mark.django_db

GOOD = {"username": "villager-wu", "display_name": "吴大姐", "phone": "13611112222",
        "password1": "Rice&Tea-2026", "password2": "Rice&Tea-2026", "privacy_accepted": "on"}


def test_register_on_a_storefront_creates_and_logs_in(province, client_on):
    client = client_on(province.bank_a)
    response = client.post("/accounts/register/", GOOD)
    assert response.status_code == 302
    user = User.objects.get(username="villager-wu")
    assert user.phone == "13611112222" and user.check_password("Rice&Tea-2026")
    assert client.get("/accounts/profile/").status_code == 200
    # the privacy notice agreed to is recorded; behaviour data only when ticked
    assert list(Consent.objects.filter(user=user).values_list("purpose", "source")) == [
        ("privacy_notice", "registration")]


def test_registration_needs_the_privacy_notice_and_records_behaviour_only_if_ticked(
        province, client_on, api_on):
    client = client_on(province.bank_a)
    page = client.get("/accounts/register/").content.decode()
    assert "/accounts/privacy/" in page and "/data-catalogue/" in page
    refused = client.post("/accounts/register/", {**GOOD, "privacy_accepted": ""})
    assert refused.status_code == 400 and refused.context["form"].errors["privacy_accepted"]
    assert not User.objects.filter(username="villager-wu").exists()

    assert client.post("/accounts/register/", {**GOOD, "behaviour_consent": "on"}) \
        .status_code == 302
    user = User.objects.get(username="villager-wu")
    assert has_consent(user_id=user.pk, purpose="behaviour")
    # withdrawn from the profile, given again through the API
    profile = client.get("/accounts/profile/").content.decode()
    assert 'id="behaviour-withdraw"' in profile
    assert client.post("/accounts/consents/behaviour/", {"give": "0"}).status_code == 302
    assert not has_consent(user_id=user.pk, purpose="behaviour")
    api = api_on(province.bank_a, user)
    assert api.put("/api/v1/me/consents/behaviour/", {"given": "yes"},
                   format="json").status_code == 400
    body = api.put("/api/v1/me/consents/behaviour/", {"given": True}, format="json").json()
    assert sorted(c["purpose"] for c in body) == ["behaviour", "privacy_notice"]
    assert has_consent(user_id=user.pk, purpose="behaviour")


def test_the_privacy_notice_and_data_catalogue_are_on_every_host(province, client_on):
    for bank in (province.bank_a, None):
        client = client_on(bank)
        home = client.get("/").content.decode()
        assert "/accounts/privacy/" in home and "/data-catalogue/" in home
        assert client.get("/accounts/privacy/").status_code == 200
        assert client.get("/data-catalogue/").status_code == 200


@pytest.mark.parametrize(("change", "field"), [
    ({"password1": "short", "password2": "short"}, "password1"),
    ({"password2": "Different-2026"}, "password2"),
    ({"phone": "12345"}, "phone"),
    ({"phone": "13700000001"}, "phone"),  # the session shopper's number
    ({"username": "t-shopper"}, "username"),
    ({"username": ""}, "username"),
])
def test_bad_registration_is_a_400_page_with_the_message_and_creates_nothing(
        province, client_on, change, field):
    before = User.objects.count()
    response = client_on(province.bank_a).post("/accounts/register/", {**GOOD, **change})
    assert response.status_code == 400
    assert response.context["form"].errors.get(field)
    assert User.objects.count() == before


def test_one_account_logs_in_on_every_storefront_and_the_portal(province, client_on):
    for bank in (province.bank_a, province.bank_b, None):
        client = client_on(bank)
        response = client.post("/accounts/login/", {"username": "t-shopper",
                                                    "password": province.password})
        assert response.status_code == 302, bank
        assert client.get("/accounts/profile/").context["user"] == province.shopper


def test_login_with_the_mobile_number(province, client_on):
    client = client_on(province.bank_b)
    response = client.post("/accounts/login/", {"username": "13700000001",
                                                "password": province.password})
    assert response.status_code == 302
    assert client.get("/api/v1/me/").json()["username"] == "t-shopper"


def test_wrong_password_is_refused(province, client_on):
    response = client_on(province.bank_a).post("/accounts/login/", {
        "username": "t-shopper", "password": "wrong-password"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_logout(province, client_on):
    client = client_on(province.bank_a, province.shopper)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/profile/").status_code == 302


def test_profile_update_and_refusal_of_a_taken_phone(province, client_on):
    client = client_on(province.bank_a, province.a_manager)
    response = client.post("/accounts/profile/", {"display_name": "甲客户经理",
                                                  "phone": "13922223333", "email": ""})
    assert response.status_code == 302
    province.a_manager.refresh_from_db()
    assert (province.a_manager.display_name, province.a_manager.phone) == (
        "甲客户经理", "13922223333")
    response = client.post("/accounts/profile/", {"display_name": "x",
                                                  "phone": "13700000001", "email": ""})
    assert response.status_code == 400
    province.a_manager.refresh_from_db()
    assert province.a_manager.display_name == "甲客户经理"


def test_profile_shows_the_persons_roles(province, client_on):
    html = client_on(province.bank_a, province.a_credit).get("/accounts/profile/")
    assert "甲县农村商业银行" in html.content.decode()


def test_pages_are_chinese_by_default_and_english_on_request(province, client_on):
    client = client_on(province.bank_a)
    zh = client.get("/accounts/login/").content.decode()
    assert "登录" in zh
    client.cookies["django_language"] = "en"
    en = client.get("/accounts/login/").content.decode()
    assert "Log in" in en and "登录" not in en


def test_language_switch_sets_english(province, client_on):
    client = client_on(province.bank_a)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Our branches" in client.get("/").content.decode()


def test_logging_in_from_a_page_comes_back_to_that_page(province, client_on):
    client = client_on(province.bank_a)
    page = client.get("/search/?q=罗汉果").content.decode()
    assert 'href="/accounts/login/?next=/search/%3Fq%3D' in page
    response = client.post("/accounts/login/", {
        "username": province.shopper.username, "password": province.password,
        "next": "/search/?q=罗汉果"})
    assert response.status_code == 302
    assert unquote(response["Location"]) == "/search/?q=罗汉果"
    # ... but never to another site
    client.logout()
    response = client.post("/accounts/login/", {
        "username": province.shopper.username, "password": province.password,
        "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]


def test_pages_carry_a_favicon(province, client_on):
    page = client_on(province.bank_a).get("/").content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page

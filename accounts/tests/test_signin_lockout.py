"""Sign-in throttling and lockout (django-axes): the login page and HTTP Basic on the API,
per account and per address; unlocking by bank and federation admins."""

from __future__ import annotations

import base64

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import user_register
from banks.models import BankEvent
from conftest import PASSWORD, host_of
from tests import unique

pytestmark = pytest.mark.django_db

LIMIT = 10  # AXES_FAILURE_LIMIT


def _person(**extra):
    return user_register(username=f"lock-{unique.tag()}", password=PASSWORD, **extra)


def _login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def _basic(username, password, *, bank=None, address="127.0.0.1"):
    client = APIClient(HTTP_HOST=host_of(bank), REMOTE_ADDR=address)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Basic {token}")


def test_twenty_wrong_passwords_on_the_login_page_lock_the_account(province):
    user = _person()
    client = Client(HTTP_HOST="localhost")
    answers = [_login(client, user.username, "wrong-password").status_code
               for _ in range(20)]
    assert answers[:LIMIT - 1] == [200] * (LIMIT - 1)  # the form with "wrong password"
    assert set(answers[LIMIT:]) == {429}
    response = _login(client, user.username, PASSWORD)  # the right password, at once
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    text = response.content.decode()
    assert 'id="sign-in-locked"' in text
    assert "登录失败次数过多" in text and "15 分钟" in text
    assert response["Retry-After"] == "900"


def test_another_address_cannot_sign_in_to_a_locked_account_either(province):
    user = _person()
    for _ in range(LIMIT):
        _login(Client(HTTP_HOST="localhost", REMOTE_ADDR="10.0.0.7"), user.username, "nope")
    elsewhere = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.0.0.8")
    assert _login(elsewhere, user.username, PASSWORD).status_code == 429


def test_the_mobile_number_counts_as_the_same_account(province):
    user = _person(phone=unique.mobile("137"))
    client = Client(HTTP_HOST="localhost")
    for n in range(LIMIT):
        _login(client, user.phone if n % 2 else user.username, "wrong-password")
    assert _login(client, user.phone, PASSWORD).status_code == 429


def test_spraying_many_accounts_from_one_address_locks_the_address(province):
    people = [_person() for _ in range(LIMIT)]
    sprayer = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.0.0.9")
    for person in people:
        _login(sprayer, person.username, "wrong-password")
    fresh = _person()
    assert _login(sprayer, fresh.username, PASSWORD).status_code == 429
    other = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.0.0.10")
    assert _login(other, fresh.username, PASSWORD).status_code == 302


def test_wrong_passwords_below_the_limit_still_let_the_person_in(province):
    user = _person()
    client = Client(HTTP_HOST="localhost")
    for _ in range(LIMIT - 1):
        _login(client, user.username, "wrong-password")
    assert _login(client, user.username, PASSWORD).status_code == 302


def test_twenty_wrong_basic_passwords_on_the_api_lock_the_account(province):
    user = _person()
    answers = [_basic(user.username, "wrong-password").status_code for _ in range(20)]
    assert answers[:LIMIT - 1] == [401] * (LIMIT - 1)
    assert set(answers[LIMIT:]) == {429}
    response = _basic(user.username, PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    body = response.json()
    assert set(body) == {"message", "errors"}
    assert "15 分钟" in body["message"]


def test_the_login_page_and_the_api_count_together(province):
    user = _person()
    client = Client(HTTP_HOST="localhost")
    for _ in range(LIMIT // 2):
        _login(client, user.username, "wrong-password")
        _basic(user.username, "wrong-password")
    assert _basic(user.username, PASSWORD).status_code == 429
    assert _login(client, user.username, PASSWORD).status_code == 429


# --- unlocking ---------------------------------------------------------------------------


def _lock(user):
    for _ in range(LIMIT):
        _login(Client(HTTP_HOST="localhost"), user.username, "wrong-password")
    assert _login(Client(HTTP_HOST="localhost"), user.username, PASSWORD).status_code == 429


def test_a_bank_admin_unlocks_a_shopper_on_the_page(province, client_on):
    user = _person()
    _lock(user)
    admin = client_on(province.bank_a, province.a_admin)
    assert admin.get("/accounts/unlock/").status_code == 200
    response = admin.post("/accounts/unlock/", {"username": user.username})
    assert response.status_code == 302
    assert _login(Client(HTTP_HOST="localhost"), user.username, PASSWORD).status_code == 302
    event = BankEvent.objects.filter(bank=province.bank_a, action="sign_in_unlocked").first()
    assert event.actor == province.a_admin and event.detail["username"] == user.username


def test_a_bank_admin_cannot_unlock_a_federation_admin_or_another_banks_staff(
        province, client_on):
    admin = client_on(province.bank_a, province.a_admin)
    for who in (province.fed_admin, province.b_manager):
        response = admin.post("/accounts/unlock/", {"username": who.username})
        assert response.status_code == 400
    assert not BankEvent.objects.filter(action="sign_in_unlocked").exists()


def test_only_admins_see_the_unlock_page_and_api(province, client_on, api_on):
    assert client_on(province.bank_a, province.a_manager).get(
        "/accounts/unlock/").status_code == 404
    assert client_on(None, province.shopper).get("/accounts/unlock/").status_code == 404
    assert client_on(None, province.a_admin).get("/accounts/unlock/").status_code == 404
    response = api_on(province.bank_a, province.shopper).post(
        "/api/v1/sign-in/unlock/", {"username": province.shopper.username}, format="json")
    assert response.status_code == 404


def test_a_federation_admin_unlocks_an_address_over_the_api(province, api_on):
    people = [_person() for _ in range(LIMIT)]
    sprayer = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.0.0.11")
    for person in people:
        _login(sprayer, person.username, "wrong-password")
    assert _login(sprayer, people[0].username, PASSWORD).status_code == 429
    response = api_on(None, province.fed_admin).post(
        "/api/v1/sign-in/unlock/", {"address": "10.0.0.11"}, format="json")
    assert response.status_code == 200 and response.json()["cleared"] >= 1
    assert _login(sprayer, people[0].username, PASSWORD).status_code == 302


def test_the_operator_unlocks_from_the_command_line(province):
    user = _person()
    _lock(user)
    call_command("sign_in_unlock", user.username)
    assert _login(Client(HTTP_HOST="localhost"), user.username, PASSWORD).status_code == 302

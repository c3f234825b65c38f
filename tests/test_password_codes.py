"""Setting a password with a code texted to the mobile number: the first sign-in of a
customer a branch desk registered, and "forgot my password" for everyone; wrong codes,
used codes, weak passwords and too many asks change nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import PasswordCode
from core import sms
from orders.assisted import customer_for_phone
from tests import unique

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Village@2026-new"


@pytest.fixture(autouse=True)
def _sms_in_memory(settings):
    settings.SMS_BACKEND = "core.sms.LocmemBackend"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def _texts(phone):
    return [m.text for m in sms.outbox if m.phone == phone]


def _signs_in_with(user, password) -> bool:
    user.refresh_from_db()
    return user.check_password(password)


def _code(phone) -> str:
    return re.search(r"\b(\d{6})\b", _texts(phone)[-1]).group(1)


@pytest.fixture
def desk_customer():
    phone = unique.mobile("137")
    user, created = customer_for_phone(phone, name="赵大爷")
    assert created and not user.has_usable_password()
    return user


def test_a_desk_customer_sets_a_first_password_on_the_pages_and_signs_in(
        province, client_on, desk_customer, django_capture_on_commit_callbacks):
    client = client_on(province.bank_a)
    assert "/accounts/password/code/" in client.get("/accounts/login/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/code/", {"phone": desk_customer.phone})
    assert response.status_code == 302
    assert response["Location"].endswith(f"/accounts/password/set/?phone={desk_customer.phone}")
    assert len(_texts(desk_customer.phone)) == 1
    response = client.post("/accounts/password/set/", {
        "phone": desk_customer.phone, "code": _code(desk_customer.phone),
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"].endswith("/accounts/profile/")
    assert client.get("/accounts/profile/").status_code == 200  # signed in
    assert _signs_in_with(desk_customer, NEW_PASSWORD)
    # the code is used up
    again = client.post("/accounts/password/set/", {
        "phone": desk_customer.phone, "code": _code(desk_customer.phone),
        "password1": "Other@2026-pass", "password2": "Other@2026-pass"})
    assert again.status_code == 400
    assert _signs_in_with(desk_customer, NEW_PASSWORD)


def test_an_unknown_number_gets_the_same_answer_and_no_text(province, client_on, api_on,
                                                            django_capture_on_commit_callbacks):
    phone = unique.mobile("137")
    with django_capture_on_commit_callbacks(execute=True):
        page = client_on(province.bank_a).post("/accounts/password/code/", {"phone": phone})
        api = api_on(province.bank_a).post("/api/v1/password-codes/", {"phone": phone},
                                           format="json")
    assert page.status_code == 302 and api.status_code == 202
    assert _texts(phone) == [] and not PasswordCode.objects.filter(phone=phone).exists()
    assert api_on(province.bank_a).post("/api/v1/password-codes/", {"phone": "12345"},
                                        format="json").status_code == 400


def test_wrong_codes_kill_the_code_and_change_nothing(province, api_on, desk_customer,
                                                      django_capture_on_commit_callbacks):
    api = api_on(province.bank_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/password-codes/", {"phone": desk_customer.phone},
                        format="json").status_code == 202
    right = _code(desk_customer.phone)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _try in range(5):
        response = api.post("/api/v1/password-codes/set/", {
            "phone": desk_customer.phone, "code": wrong, "password": NEW_PASSWORD},
            format="json")
        assert response.status_code == 400 and "code" in response.json()["errors"]
    assert PasswordCode.objects.get(phone=desk_customer.phone).wrong_tries == 5
    # five wrong tries: even the right code no longer works
    assert api.post("/api/v1/password-codes/set/", {
        "phone": desk_customer.phone, "code": right, "password": NEW_PASSWORD},
        format="json").status_code == 400
    desk_customer.refresh_from_db()
    assert not desk_customer.has_usable_password()


def test_a_weak_password_keeps_the_code_and_an_expired_code_is_refused(
        province, api_on, desk_customer, django_capture_on_commit_callbacks):
    api = api_on(province.bank_a)
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/password-codes/", {"phone": desk_customer.phone}, format="json")
    code = _code(desk_customer.phone)
    weak = api.post("/api/v1/password-codes/set/", {
        "phone": desk_customer.phone, "code": code, "password": "123"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()["errors"]
    assert api.post("/api/v1/password-codes/set/", {
        "phone": desk_customer.phone, "code": code, "password": NEW_PASSWORD},
        format="json").status_code == 204
    assert _signs_in_with(desk_customer, NEW_PASSWORD)

    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/password-codes/", {"phone": desk_customer.phone}, format="json")
    PasswordCode.objects.filter(phone=desk_customer.phone, used_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert api.post("/api/v1/password-codes/set/", {
        "phone": desk_customer.phone, "code": _code(desk_customer.phone),
        "password": "Another@2026-pw"}, format="json").status_code == 400
    assert _signs_in_with(desk_customer, NEW_PASSWORD)


def test_too_many_asks_for_one_number_are_refused(province, api_on, desk_customer,
                                                  django_capture_on_commit_callbacks):
    api = api_on(province.bank_a)
    with django_capture_on_commit_callbacks(execute=True):
        for _ask in range(5):
            assert api.post("/api/v1/password-codes/", {"phone": desk_customer.phone},
                            format="json").status_code == 202
        refused = api.post("/api/v1/password-codes/", {"phone": desk_customer.phone},
                           format="json")
    assert refused.status_code == 400 and "phone" in refused.json()["errors"]
    assert len(_texts(desk_customer.phone)) == 5
    # only the latest code works
    assert PasswordCode.objects.filter(phone=desk_customer.phone).count() == 5

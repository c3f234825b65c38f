"""Confirmation codes at the branch desk cannot be sprayed over many orders and resends:
wrong codes are limited per staff member, per customer phone and per address, and codes
texted per phone, on top of the 5 tries of each code."""

from __future__ import annotations

import pytest

from core import sms
from core.errors import ApplicationError
from orders import assisted as desk_orders
from tests import unique
from tests.orders_factories import market

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.SMS_BACKEND = "core.sms.LocmemBackend"
    settings.ASSISTED_WRONG_CODES_LIMIT = 4
    settings.ASSISTED_CODES_PER_PHONE = 3
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def _start(province, shop, capture, *, phone=None, staff=None):
    with capture(execute=True):
        return desk_orders.assisted_checkout_start(
            staff=staff or province.a_manager, bank=province.bank_a,
            branch_id=province.a_branch.pk, customer_phone=phone or unique.mobile("139"),
            lines=[(shop.sku_a.pk, 1)])


def _code(phone):
    import re

    return re.search(r"\b(\d{6})\b", [m.text for m in sms.outbox if m.phone == phone][-1])[1]


def _wrong(assisted, staff, address=""):
    with pytest.raises(ApplicationError) as exc:
        desk_orders.assisted_confirm(assisted=assisted, bank=assisted.branch.bank, staff=staff,
                                     code="000000" if _code(assisted.customer_phone) != "000000"
                                     else "111111", client_address=address)
    return exc.value


def _right(assisted, staff, address=""):
    return desk_orders.assisted_confirm(assisted=assisted, bank=assisted.branch.bank,
                                        staff=staff, code=_code(assisted.customer_phone),
                                        client_address=address)


def test_a_member_of_staff_spraying_over_several_orders_is_stopped(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    staff = province.a_manager
    for _ in range(2):  # 2 wrong codes on each of two orders: 4 in all, each order not locked
        assisted = _start(province, shop, django_capture_on_commit_callbacks)
        assert _wrong(assisted, staff).code == "wrong_code"
        assert _wrong(assisted, staff).code == "wrong_code"
    fresh = _start(province, shop, django_capture_on_commit_callbacks)
    error = _wrong(fresh, staff)
    assert error.code == "throttled" and error.status_code == 429
    with pytest.raises(ApplicationError) as exc:  # even the right code
        _right(fresh, staff)
    assert exc.value.code == "throttled"
    # Another member of staff at another desk is not held up by it.
    assert _right(fresh, province.a_admin, address="10.2.0.2").confirmed_at


def test_wrong_codes_for_one_customer_count_across_staff(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    phone = unique.mobile("139")
    first = _start(province, shop, django_capture_on_commit_callbacks, phone=phone)
    for staff in (province.a_manager, province.a_admin, province.a_manager, province.a_admin):
        _wrong(first, staff, address=f"10.3.0.{staff.pk % 200}")
    assert _wrong(first, province.a_credit).code == "throttled"


def test_wrong_codes_from_one_address_count_across_staff(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    orders = [_start(province, shop, django_capture_on_commit_callbacks) for _ in range(2)]
    for assisted in orders:
        _wrong(assisted, province.a_manager, address="10.4.0.1")
        _wrong(assisted, province.a_admin, address="10.4.0.1")
    third = _start(province, shop, django_capture_on_commit_callbacks)
    assert _wrong(third, province.a_credit, address="10.4.0.1").code == "throttled"


def test_codes_texted_to_one_phone_are_limited(province, django_capture_on_commit_callbacks):
    shop = market(province)
    phone = unique.mobile("139")
    assisted = _start(province, shop, django_capture_on_commit_callbacks, phone=phone)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            desk_orders.assisted_code_resend(assisted=assisted, bank=province.bank_a,
                                             staff=province.a_manager)
    with pytest.raises(ApplicationError) as exc:
        desk_orders.assisted_code_resend(assisted=assisted, bank=province.bank_a,
                                         staff=province.a_manager)
    assert exc.value.code == "throttled"
    with pytest.raises(ApplicationError) as exc:  # nor by placing another order
        _start(province, shop, django_capture_on_commit_callbacks, phone=phone)
    assert exc.value.code == "throttled"
    assert len([m for m in sms.outbox if m.phone == phone]) == 3


def test_the_api_answers_429_when_throttled(province, api_on,
                                            django_capture_on_commit_callbacks):
    shop = market(province)
    orders = [_start(province, shop, django_capture_on_commit_callbacks) for _ in range(2)]
    api = api_on(province.bank_a, province.a_manager)
    for assisted in orders:
        for _ in range(2):
            number = assisted.checkout.number
            response = api.post(f"/api/v1/console/desk/assisted/{number}/confirm/",
                                {"code": "000001"}, format="json")
            assert response.status_code == 400
    third = _start(province, shop, django_capture_on_commit_callbacks)
    response = api.post(f"/api/v1/console/desk/assisted/{third.checkout.number}/confirm/",
                        {"code": _code(third.customer_phone)}, format="json")
    assert response.status_code == 429
    assert "60" in response.json()["message"]

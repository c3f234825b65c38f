"""The address book: China's divisions picked level by level, entries with one default,
chosen at checkout (page and API); another person's entry is never reachable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts import selectors as books
from accounts import services as book
from accounts.models import Address, Division
from accounts.services import user_register
from orders.models import Checkout
from tests import unique
from tests.orders_factories import market

pytestmark = pytest.mark.django_db

XIHU_BEISHAN = "330106002"     # 浙江省 杭州市 西湖区 北山街道
DONGCHENG_DONGHUAMEN = "110101001"  # 北京市 市辖区 东城区 东华门街道


def fresh(province, prefix="t-book"):
    return user_register(username=f"{prefix}-{unique.tag()}", password=province.password)


def spec(**overrides) -> book.AddressSpec:
    values = {"recipient_name": "张三", "recipient_phone": "13800138000",
              "division": XIHU_BEISHAN, "detail": "灵隐路 8 号", "is_default": False}
    values.update(overrides)
    return book.AddressSpec(**values)


def body(**overrides) -> dict:
    return {**spec(**overrides).__dict__}


# --- divisions -----------------------------------------------------------------------------


def test_the_shipped_divisions_are_loaded_and_read_level_by_level(api_on):
    assert Division.objects.filter(level=Division.Level.PROVINCE).count() == 31
    assert Division.objects.filter(level=Division.Level.TOWNSHIP).count() > 40000
    api = api_on(None)
    provinces = api.get("/api/v1/divisions/").json()
    assert {"code": "33", "name": "浙江省", "level": 1} in provinces
    cities = api.get("/api/v1/divisions/?parent=33").json()
    assert {"code": "3301", "name": "杭州市", "level": 2} in cities
    townships = api.get("/api/v1/divisions/?parent=330106").json()
    assert {"code": XIHU_BEISHAN, "name": "北山街道", "level": 4} in townships
    assert all(row["code"].startswith("330106") for row in townships)
    assert api.get("/api/v1/divisions/?parent=99").status_code == 404
    assert api.get("/api/v1/divisions/?parent=杭州").status_code == 400
    # Written as on a parcel: the municipality's placeholder city level is left out.
    assert books.division_text(books.division_path(DONGCHENG_DONGHUAMEN)) == \
        "北京市东城区东华门街道"
    assert books.division_text(books.division_path(XIHU_BEISHAN)) == "浙江省杭州市西湖区北山街道"


# --- entries -------------------------------------------------------------------------------


def test_the_first_entry_is_the_default_and_one_default_at_most(province):
    user = fresh(province)
    first = book.address_create(user=user, spec=spec())
    second = book.address_create(user=user, spec=spec(detail="曙光路 1 号", is_default=True))
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    book.address_set_default(user=user, address_id=first.pk)
    assert list(Address.objects.filter(user=user, is_default=True)) == [first]
    # Deleting the default makes the newest remaining entry the default.
    third = book.address_create(user=user, spec=spec(detail="文三路 3 号"))
    book.address_delete(user=user, address_id=first.pk)
    assert list(Address.objects.filter(user=user, is_default=True)) == [third]
    entries = books.addresses_of(user=user)
    assert [e.pk for e in entries] == [third.pk, second.pk]
    assert entries[0].region == "浙江省杭州市西湖区北山街道"


@pytest.mark.parametrize(("overrides", "field"), [
    ({"recipient_name": "  "}, "recipient_name"),
    ({"recipient_phone": "12345"}, "recipient_phone"),
    ({"division": "330106"}, "division"),          # a county: choose the township
    ({"division": "999999999"}, "division"),
    ({"division": "浙江"}, "division"),
    ({"detail": "8"}, "detail"),
])
def test_bad_entries_are_refused_and_change_nothing(province, overrides, field):
    user = fresh(province)
    with pytest.raises(ValidationError) as caught:
        book.address_create(user=user, spec=spec(**overrides))
    assert field in caught.value.message_dict
    assert not Address.objects.filter(user=user).exists()


def test_a_book_holds_twenty_entries(province):
    user = fresh(province)
    for n in range(book.ADDRESS_BOOK_LIMIT):
        book.address_create(user=user, spec=spec(detail=f"灵隐路 {n + 1} 号"))
    with pytest.raises(ValidationError):
        book.address_create(user=user, spec=spec(detail="灵隐路 99 号"))
    assert Address.objects.filter(user=user).count() == book.ADDRESS_BOOK_LIMIT


def test_the_api_keeps_each_book_to_its_owner(province, api_on):
    owner, other = fresh(province), fresh(province)
    api = api_on(None, owner)
    created = api.post("/api/v1/me/addresses/", body(), format="json")
    assert created.status_code == 201, created.json()
    entry = created.json()
    assert entry["region"] == "浙江省杭州市西湖区北山街道" and entry["is_default"] is True
    assert [d["code"] for d in entry["path"]] == ["33", "3301", "330106", XIHU_BEISHAN]
    changed = api.put(f"/api/v1/me/addresses/{entry['id']}/",
                      body(detail="北山路 2 号"), format="json")
    assert changed.status_code == 200 and changed.json()["detail"] == "北山路 2 号"
    bad = api.post("/api/v1/me/addresses/", body(recipient_phone="110"), format="json")
    assert bad.status_code == 400 and "recipient_phone" in bad.json()["errors"]
    bad = api.post("/api/v1/me/addresses/", body(is_default="yes"), format="json")
    assert bad.status_code == 400
    # A string field takes a JSON string: a number is refused, not read as text.
    bad = api.post("/api/v1/me/addresses/", body(recipient_name=42, detail=12345678),
                   format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"recipient_name", "detail"}

    intruder = api_on(None, other)
    path = f"/api/v1/me/addresses/{entry['id']}/"
    assert intruder.get(path).status_code == 404
    assert intruder.put(path, body(detail="偷改 1 号"), format="json").status_code == 404
    assert intruder.post(f"{path}default/").status_code == 404
    assert intruder.delete(path).status_code == 404
    assert intruder.get("/api/v1/me/addresses/").json() == []
    assert Address.objects.get(pk=entry["id"]).detail == "北山路 2 号"
    assert api_on(None).get("/api/v1/me/addresses/").status_code == 401

    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


# --- at checkout ---------------------------------------------------------------------------


def test_checkout_copies_the_chosen_entry_and_refuses_anothers(province, api_on):
    shop = market(province)
    buyer, other = fresh(province, "t-book-buyer"), fresh(province)
    mine = book.address_create(user=buyer, spec=spec(recipient_name="李四"))
    theirs = book.address_create(user=other, spec=spec(recipient_name="王五"))
    api = api_on(province.bank_a, buyer)
    assert api.post("/api/v1/cart/items/", {"sku": shop.sku_a.pk, "quantity": 1},
                    format="json").status_code == 201

    refused = api.post("/api/v1/checkouts/", {"delivery": {"address_id": theirs.pk}},
                       format="json")
    assert refused.status_code == 400 and "address_id" in refused.json()["errors"]
    assert not Checkout.objects.filter(buyer=buyer).exists()

    placed = api.post("/api/v1/checkouts/", {"delivery": {"address_id": mine.pk}},
                      format="json")
    assert placed.status_code == 201, placed.json()
    order = Checkout.objects.get(buyer=buyer).orders.get()
    assert (order.recipient_name, order.recipient_phone, order.address) == (
        "李四", "13800138000", "浙江省杭州市西湖区北山街道灵隐路 8 号")
    # The order keeps the address it was sent to when the book changes.
    book.address_update(user=buyer, address_id=mine.pk, spec=spec(detail="别处 1 号"))
    book.address_delete(user=buyer, address_id=mine.pk)
    order.refresh_from_db()
    assert order.address == "浙江省杭州市西湖区北山街道灵隐路 8 号"


def test_the_pages_add_an_entry_and_checkout_offers_it(province, client_on):
    shop = market(province)
    buyer = fresh(province, "t-book-page")
    client = client_on(province.bank_a, buyer)
    form = client.get("/accounts/addresses/new/")
    assert form.status_code == 200 and "浙江省" in form.content.decode()
    # Without script, a chosen level brings the next level's choices back.
    refreshed = client.post("/accounts/addresses/new/", {
        "province": "33", "city": "3301", "refresh": "1", "recipient_name": "李四"})
    assert refreshed.status_code == 200 and "西湖区" in refreshed.content.decode()
    half = client.post("/accounts/addresses/new/", {
        "recipient_name": "李四", "recipient_phone": "13800138000", "province": "33",
        "city": "3301", "county": "330106", "detail": "灵隐路 8 号"})
    assert half.status_code == 400 and not Address.objects.filter(user=buyer).exists()
    saved = client.post("/accounts/addresses/new/?next=/checkout/", {
        "recipient_name": "李四", "recipient_phone": "13800138000", "province": "33",
        "city": "3301", "county": "330106", "township": XIHU_BEISHAN,
        "detail": "灵隐路 8 号", "next": "/checkout/"})
    assert saved.status_code == 302 and saved["Location"] == "/checkout/"
    entry = Address.objects.get(user=buyer)
    assert entry.is_default

    client.post("/cart/add/", {"sku": shop.sku_a.pk, "quantity": 1})
    page = client.get("/checkout/")
    assert page.status_code == 200
    assert f'name="address_id" value="{entry.pk}" checked' in page.content.decode()
    placed = client.post("/checkout/", {"address_id": str(entry.pk)})
    assert placed.status_code == 302, placed.content.decode()[:2000]
    order = Checkout.objects.get(buyer=buyer).orders.get()
    assert order.address == "浙江省杭州市西湖区北山街道灵隐路 8 号"

    other = fresh(province)
    assert client_on(province.bank_a, other).get(
        f"/accounts/addresses/{entry.pk}/edit/").status_code == 404
    assert client_on(province.bank_a, other).post(
        f"/accounts/addresses/{entry.pk}/delete/").status_code == 404
    assert Address.objects.filter(pk=entry.pk).exists()

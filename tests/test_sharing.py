"""Sharing a product or a shop: the share page and its poster (a PNG whose QR code is the
share link), a visit through the link attributed to the sharer's bank, the order it
brings earning the sharer points when it completes, and "my shares" showing all of it;
someone else's link or poster is a 404."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context
from PIL import Image

from orders import services as orders
from orders import sharing
from orders.models import ReferralTouch, ShareLink
from orders.posters import HEIGHT, WIDTH, share_poster_png
from payments.tests.test_settlement import _complete
from rewards import services as rewards
from tests.lending_factories import buyer
from tests.orders_factories import market, pay, place

pytestmark = pytest.mark.django_db


def _decode_qr(png: bytes) -> str | None:
    """The QR's text if a decoder is installed (OpenCV or zbar), else None."""
    try:
        import cv2  # type: ignore[import-not-found]
        import numpy as np  # type: ignore[import-not-found]
    except ImportError:
        cv2 = None
    if cv2 is not None:
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        text, _points, _raw = cv2.QRCodeDetector().detectAndDecode(img)
        return text or None
    try:
        from pyzbar.pyzbar import decode  # type: ignore[import-not-found]
    except ImportError:
        return None
    found = decode(Image.open(io.BytesIO(png)))
    return found[0].data.decode() if found else None


def _qr_matches(png: bytes, text: str) -> bool:
    """Without a decoder: the poster's QR, read module by module, is the code of ``text``
    (segno's matrix with its 2-module quiet zone, as the poster draws it)."""
    import segno

    from orders.posters import QR_SIZE

    code = segno.make(text, error="m")
    rows = [list(row) for row in code.matrix_iter(scale=1, border=2)]
    n = len(rows)
    img = Image.open(io.BytesIO(png)).convert("L")
    left, top = WIDTH - QR_SIZE - 40, HEIGHT - QR_SIZE - 40
    step = QR_SIZE / n
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            pixel = img.getpixel((int(left + (x + 0.5) * step), int(top + (y + 0.5) * step)))
            if (pixel < 128) != bool(dark):
                return False
    return True


def test_a_product_is_shared_with_a_link_and_a_poster_whose_qr_is_the_link(
        province, client_on):
    shop = market(province)
    sharer = buyer()
    bank = province.bank_a
    client = client_on(bank, sharer)
    page = client.post("/share/", {"product": shop.sku_a.product.pk})
    assert page.status_code == 200
    link = ShareLink.objects.get(sharer=sharer, bank=bank, product=shop.sku_a.product)
    body = page.content.decode()
    assert f"/p/{shop.sku_a.product.pk}/?ref={link.code}" in body
    assert f"/share/{link.code}/poster.png" in body
    # The same link the next time (one per sharer, bank and product).
    client.post("/share/", {"product": shop.sku_a.product.pk})
    assert ShareLink.objects.filter(sharer=sharer, product=shop.sku_a.product).count() == 1

    poster = client.get(f"/share/{link.code}/poster.png")
    assert poster.status_code == 200
    assert poster["Content-Type"] == "image/png"
    img = Image.open(io.BytesIO(poster.content))
    assert img.format == "PNG" and img.size == (WIDTH, HEIGHT)
    expected = f"http://{page.wsgi_request.get_host()}/p/{shop.sku_a.product.pk}/?ref={link.code}"
    decoded = _decode_qr(poster.content)
    if decoded is not None:
        assert decoded == expected
    else:
        assert _qr_matches(poster.content, expected)
        assert not _qr_matches(poster.content, expected + "x")
    download = client.get(f"/share/{link.code}/poster.png?download=1")
    assert "attachment" in download["Content-Disposition"]


def test_a_shop_is_shared_as_a_whole(province, client_on):
    shop = market(province)
    sharer = buyer()
    client = client_on(province.bank_b, sharer)
    merchant = shop.sku_a.product.merchant
    shop_page = client.get(f"/shop/{merchant.pk}/")
    assert 'name="merchant"' in shop_page.content.decode()  # the share button
    page = client.post("/share/", {"merchant": merchant.pk})
    assert page.status_code == 200
    link = ShareLink.objects.get(sharer=sharer, bank=province.bank_b, merchant=merchant)
    assert link.product_id is None
    assert f"/shop/{merchant.pk}/?ref={link.code}" in page.content.decode()
    poster = client.get(f"/share/{link.code}/poster.png")
    assert poster.status_code == 200
    assert Image.open(io.BytesIO(poster.content)).size == (WIDTH, HEIGHT)
    # "My shares" is reached from my orders (on a bank's storefront).
    assert 'href="/share/mine/"' in client.get("/orders/").content.decode()


def test_bad_share_requests_are_refused_and_make_nothing(province, client_on):
    shop = market(province)
    sharer, other = buyer(), buyer()
    client = client_on(province.bank_a, sharer)
    before = ShareLink.objects.count()
    assert client.post("/share/", {"product": "abc"}).status_code == 404
    assert client.post("/share/", {"merchant": "99999999999999999999"}).status_code == 404
    assert client.post("/share/", {"product": 10 ** 9}).status_code == 404
    assert client.get("/share/").status_code == 405
    assert ShareLink.objects.count() == before
    # Anonymous: to the login page; on the portal: no storefront to share on.
    assert client_on(province.bank_a).post(
        "/share/", {"product": shop.sku_a.product.pk}).status_code == 302
    assert client_on(None, sharer).post(
        "/share/", {"product": shop.sku_a.product.pk}).status_code == 404
    # Someone else's poster, or the poster on another bank's host: 404.
    link = orders.share_link_for(sharer=sharer, bank=province.bank_a,
                                 product=shop.sku_a.product)
    assert client_on(province.bank_a, other).get(
        f"/share/{link.code}/poster.png").status_code == 404
    assert client_on(province.bank_b, sharer).get(
        f"/share/{link.code}/poster.png").status_code == 404
    assert client.get("/share/nope/poster.png").status_code == 404


def test_a_visit_through_the_link_counts_for_the_sharers_bank(province, client_on):
    shop = market(province)
    sharer, friend = buyer(), buyer()
    link = orders.share_link_for(sharer=sharer, bank=province.bank_a,
                                 product=shop.sku_b.product)
    # The friend opens the link on bank B's storefront: the visit is bank A's.
    page = client_on(province.bank_b, friend).get(
        f"/p/{shop.sku_b.product.pk}/?ref={link.code}")
    assert page.status_code == 200
    touch = ReferralTouch.objects.filter(user=friend).latest("at")
    assert touch.bank_id == province.bank_a.pk
    assert touch.share_link_id == link.pk and touch.sharer_id == sharer.pk
    # A made-up code is an ordinary visit to the bank it happens on.
    client_on(province.bank_b, friend).get(f"/p/{shop.sku_b.product.pk}/?ref=zzzz")
    touch = ReferralTouch.objects.filter(user=friend).latest("id")
    assert touch.bank_id == province.bank_b.pk and touch.sharer_id is None


def test_an_order_through_a_shared_link_earns_the_sharer_points_shown_in_my_shares(
        province, client_on, django_capture_on_commit_callbacks):
    shop = market(province)
    sharer, friend = buyer(), buyer()
    bank = province.bank_a
    sharer_client = client_on(bank, sharer)
    sharer_client.post("/share/", {"product": shop.sku_b.product.pk})
    link = ShareLink.objects.get(sharer=sharer, bank=bank, product=shop.sku_b.product)
    friend_client = client_on(bank, friend)
    assert friend_client.get(sharing.share_path(link)).status_code == 200
    checkout = place(friend, bank, [(shop.sku_b, 2)])  # 136.00 of goods
    pay(checkout)
    order = checkout.orders.get()
    assert order.sharer_id == sharer.pk and order.referrer_bank_id == bank.pk

    mine = sharer_client.get("/share/mine/")
    assert mine.status_code == 200
    shares = mine.context["shares"]
    assert shares.visits == 1 and shares.order_count == 1 and shares.points == 0

    with django_capture_on_commit_callbacks(execute=True):
        _complete(checkout, province.b_manager)
    with schema_context(bank.schema_name):
        _programme, rules = rewards.programme_of(bank)
        expected = int(Decimal(order.total) * rules.sharer_points_per_yuan)
        assert expected > 0
        assert rewards.balance(user_id=sharer.pk) == expected
    shares = sharer_client.get("/share/mine/").context["shares"]
    assert shares.points == expected
    assert shares.orders[0].order.pk == order.pk and shares.orders[0].points == expected
    body = sharer_client.get("/share/mine/").content.decode()
    assert f'data-stat="points">{expected}<' in body
    # The friend's own "my shares" is empty; on bank B the sharer has no links there.
    assert client_on(bank, friend).get("/share/mine/").context["shares"].points == 0
    other = client_on(province.bank_b, sharer).get("/share/mine/").context["shares"]
    assert other.links == [] and other.order_count == 0


def test_the_poster_is_made_without_a_cjk_font(monkeypatch):
    from orders import posters

    monkeypatch.setattr(posters, "POSTER_FONT_PATHS", ("/nonexistent/font.ttc",))
    posters._font.cache_clear()
    try:
        png = share_poster_png(title="罗汉果 Luohanguo", url="http://a.example/p/1/?ref=x",
                               bank_name="桂林农商银行", price=Decimal("45.50"),
                               call_to_action="扫码购买")
    finally:
        posters._font.cache_clear()
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (WIDTH, HEIGHT)


def test_share_links_api_shares_a_shop_and_lists_what_my_links_brought(province, api_on):
    shop = market(province)
    sharer, friend = buyer(), buyer()
    bank = province.bank_a
    api = api_on(bank, sharer)
    merchant = shop.sku_b.product.merchant
    made = api.post("/api/v1/share-links/", {"merchant": merchant.pk}, format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["merchant"] == merchant.pk and body["product"] is None
    assert body["url"].endswith(f"/shop/{merchant.pk}/?ref={body['code']}")
    assert body["poster_url"].endswith(f"/share/{body['code']}/poster.png")

    before = ShareLink.objects.count()
    for bad in ({}, {"product": shop.sku_a.product.pk, "merchant": merchant.pk},
                {"merchant": 0}, {"merchant": 10 ** 9}, {"product": "x"},
                {"merchant": 10 ** 30}):
        response = api.post("/api/v1/share-links/", bad, format="json")
        assert response.status_code == 400, (bad, response.status_code)
        assert "message" in response.json()
    assert ShareLink.objects.count() == before
    assert api_on(bank).get("/api/v1/share-links/").status_code in (401, 403)
    assert api_on(None, sharer).get("/api/v1/share-links/").status_code == 404

    link = ShareLink.objects.get(code=body["code"])
    orders.referral_touch(bank=bank, user=friend, share_code=link.code)
    checkout = place(friend, bank, [(shop.sku_b, 1)])
    pay(checkout)
    listing = api.get("/api/v1/share-links/")
    assert listing.status_code == 200
    data = listing.json()
    assert data["visits"] == 1 and data["order_count"] == 1 and data["points"] == 0
    assert data["links"][0]["code"] == link.code and data["links"][0]["visits"] == 1
    assert data["links"][0]["title"] == merchant.name
    assert data["orders"][0]["number"] == checkout.orders.get().number
    # Another shopper sees only their own (none).
    assert api_on(bank, friend).get("/api/v1/share-links/").json()["links"] == []

"""Reviews and ratings: only the buyer of a completed order reviews what they bought, once
per order and product, edits once; the shop replies; staff of the shop's bank hide with a
reason (staff of another bank get 404); ratings on the product and the shop are exact and
leave hidden reviews out; a photo must be a real image; pages and API agree."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.services import user_register
from catalog import page_cache
from catalog.models import Merchant, Product
from fixtures.reviews_demo import load_demo_reviews
from orders import services as orders
from orders.models import OrderEvent, Review, ReviewPhoto
from payments.models import PaymentStatus
from tests import unique
from tests.orders_factories import market, pay, place

pytestmark = pytest.mark.django_db


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (30, 200, 30)).save(out, "PNG")
    return out.getvalue()


def buyer(province, name="买家"):
    return user_register(username=f"t-rv-{unique.tag()}", password=province.password,
                         display_name=name)


def bought(province, shop, who, *, complete=True):
    """An order of ``who`` for one box of shop A's apples, completed unless told."""
    checkout = place(who, province.bank_a, [(shop.sku_a, 1)])
    assert pay(checkout).status == PaymentStatus.SUCCEEDED
    order = checkout.orders.get()
    owner = shop.merchant_a.members.get().user
    orders.order_ship(order=order, actor=owner, carrier="中通快递", tracking_number="ZT1")
    if complete:
        orders.order_track(order=order, actor=owner, description="已签收", delivered=True)
        orders.order_confirm_receipt(order=order, actor=who)
    order.refresh_from_db()
    return order


@pytest.fixture
def shop(province):
    return market(province)


def rating(shop):
    product = Product.objects.get(pk=shop.sku_a.product_id)
    merchant = Merchant.objects.get(pk=shop.merchant_a.pk)
    return ((product.rating_count, product.rating_avg),
            (merchant.rating_count, merchant.rating_avg))


def post_review(api_on, who, order, product_id, **body):
    return api_on(None, who).post(f"/api/v1/orders/{order.number}/reviews/",
                                  {"product": product_id, "stars": 5, **body}, format="json")


def test_someone_who_did_not_buy_gets_a_4xx_and_nothing_changes(province, shop, api_on):
    alice = buyer(province)
    order = bought(province, shop, alice)
    product_id = shop.sku_a.product_id
    stranger = buyer(province, "路人")
    assert post_review(api_on, stranger, order, product_id).status_code == 404
    # the buyer, but of another product than the one in the order
    wrong = post_review(api_on, alice, order, shop.sku_b.product_id)
    assert wrong.status_code == 400 and "product" in wrong.json()["errors"]
    anonymous = api_on(None).post(f"/api/v1/orders/{order.number}/reviews/",
                                  {"product": product_id, "stars": 5}, format="json")
    assert anonymous.status_code in (401, 403)
    assert not Review.objects.exists()
    assert rating(shop) == ((0, Decimal("0.00")), (0, Decimal("0.00")))
    assert not OrderEvent.objects.filter(order=order, kind__startswith="review").exists()


def test_an_order_not_confirmed_received_cannot_be_reviewed(province, shop, api_on):
    alice = buyer(province)
    order = bought(province, shop, alice, complete=False)  # shipped, not received
    response = post_review(api_on, alice, order, shop.sku_a.product_id)
    assert response.status_code == 400 and response.json()["message"]
    assert not Review.objects.exists()
    assert Product.objects.get(pk=shop.sku_a.product_id).rating_count == 0


def test_stars_are_one_to_five(province, shop, api_on):
    alice = buyer(province)
    order = bought(province, shop, alice)
    for stars in (0, 6, "many"):
        response = post_review(api_on, alice, order, shop.sku_a.product_id, stars=stars)
        assert response.status_code == 400 and "stars" in response.json()["errors"]
    assert not Review.objects.exists()


def test_averages_stay_exact_through_create_edit_hide_and_unhide(province, shop, api_on,
                                                                client_on):
    product_id = shop.sku_a.product_id
    alice, bob, carol = buyer(province), buyer(province), buyer(province)
    a, b, c = (bought(province, shop, who) for who in (alice, bob, carol))
    assert post_review(api_on, alice, a, product_id, stars=5, text="很甜").status_code == 201
    assert rating(shop) == ((1, Decimal("5.00")), (1, Decimal("5.00")))
    assert post_review(api_on, bob, b, product_id, stars=4).status_code == 201
    assert post_review(api_on, carol, c, product_id, stars=4).status_code == 201
    assert rating(shop)[0] == (3, Decimal("4.33"))   # 13 / 3, to two decimals
    # the same product in the same order again: refused
    again = post_review(api_on, alice, a, product_id, stars=1)
    assert again.status_code == 400 and again.json()["errors"]
    assert rating(shop)[0] == (3, Decimal("4.33"))

    # the one edit, then no more
    mine = Review.objects.get(buyer=carol)
    edit = api_on(None, carol).patch(f"/api/v1/me/reviews/{mine.pk}/",
                                     {"stars": 1, "text": "坏了两个"}, format="json")
    assert edit.status_code == 200 and edit.json()["edited"] is True
    assert rating(shop)[0] == (3, Decimal("3.33"))   # 10 / 3
    second = api_on(None, carol).patch(f"/api/v1/me/reviews/{mine.pk}/",
                                       {"stars": 5}, format="json")
    assert second.status_code == 400
    mine.refresh_from_db()
    assert mine.stars == 1 and mine.text == "坏了两个"
    # someone else's review: 404
    assert api_on(None, alice).patch(f"/api/v1/me/reviews/{mine.pk}/", {"stars": 5},
                                     format="json").status_code == 404

    # the bank hides it: gone from the public list and the ratings, the buyer sees why
    hide = api_on(province.bank_a, province.a_manager).post(
        f"/api/v1/console/reviews/{mine.pk}/hide/", {"reason": "含有广告"}, format="json")
    assert hide.status_code == 200 and hide.json()["hidden"] is True
    assert rating(shop) == ((2, Decimal("4.50")), (2, Decimal("4.50")))
    public = api_on(None).get(f"/api/v1/catalog/products/{product_id}/reviews/").json()
    assert public["total"] == 2 and mine.pk not in [r["id"] for r in public["results"]]
    assert (public["rating_count"], Decimal(public["rating_avg"])) == (2, Decimal("4.50"))
    own = api_on(None, carol).get("/api/v1/me/reviews/").json()["results"]
    assert own[0]["hidden"] is True and own[0]["hidden_reason"] == "含有广告"
    page = client_on(None, carol).get(f"/orders/{c.number}/")
    assert "含有广告" in page.content.decode()
    assert OrderEvent.objects.filter(order=c, kind="review_hide", actor=province.a_manager,
                                     note="含有广告").exists()
    # hiding it again is refused, showing it again restores the figures
    assert api_on(province.bank_a, province.a_manager).post(
        f"/api/v1/console/reviews/{mine.pk}/hide/", {"reason": "x"},
        format="json").status_code == 400
    assert api_on(province.bank_a, province.a_admin).post(
        f"/api/v1/console/reviews/{mine.pk}/unhide/", format="json").status_code == 200
    assert rating(shop)[0] == (3, Decimal("3.33"))


def test_only_staff_of_the_shops_bank_moderate(province, shop, api_on):
    alice = buyer(province)
    order = bought(province, shop, alice)
    assert post_review(api_on, alice, order, shop.sku_a.product_id, stars=2).status_code == 201
    review = Review.objects.get()
    # staff of bank B, on their own bank's domain and on bank A's: 404
    for bank in (province.bank_b, province.bank_a):
        response = api_on(bank, province.b_manager).post(
            f"/api/v1/console/reviews/{review.pk}/hide/", {"reason": "不喜欢"}, format="json")
        assert response.status_code == 404
    assert api_on(province.bank_b, province.b_admin).get(
        "/api/v1/console/reviews/").json()["total"] == 0
    # a credit officer of bank A does not moderate
    assert api_on(province.bank_a, province.a_credit).post(
        f"/api/v1/console/reviews/{review.pk}/hide/", {"reason": "不喜欢"},
        format="json").status_code == 403
    # a reason is required
    empty = api_on(province.bank_a, province.a_manager).post(
        f"/api/v1/console/reviews/{review.pk}/hide/", {"reason": ""}, format="json")
    assert empty.status_code == 400 and "reason" in empty.json()["errors"]
    review.refresh_from_db()
    assert review.hidden_at is None
    assert rating(shop)[0] == (1, Decimal("2.00"))


def test_the_shop_replies_and_other_shops_cannot(province, shop, api_on):
    alice = buyer(province)
    order = bought(province, shop, alice)
    post_review(api_on, alice, order, shop.sku_a.product_id, stars=3)
    review = Review.objects.get()
    owner = shop.merchant_a.members.get().user
    other = shop.merchant_b.members.get().user
    url = f"/api/v1/merchant/{shop.merchant_a.pk}/reviews/{review.pk}/reply/"
    assert api_on(province.bank_a, other).put(url, {"reply": "谢谢"},
                                              format="json").status_code == 404
    assert api_on(province.bank_a, owner).put(url, {"reply": ""},
                                              format="json").status_code == 400
    for text in ("感谢支持", "感谢支持，下次给您挑大的"):
        assert api_on(province.bank_a, owner).put(url, {"reply": text},
                                                  format="json").status_code == 200
    public = api_on(None).get(
        f"/api/v1/catalog/products/{shop.sku_a.product_id}/reviews/").json()["results"]
    assert public[0]["reply"] == "感谢支持，下次给您挑大的"
    assert public[0]["reviewer"] == "买**"   # masked
    listed = api_on(province.bank_a, owner).get(
        f"/api/v1/merchant/{shop.merchant_a.pk}/reviews/").json()
    assert listed["total"] == 1
    assert OrderEvent.objects.filter(order=order, kind="review_reply").count() == 2


def test_a_photo_must_be_an_image(province, shop, api_on):
    alice = buyer(province)
    order = bought(province, shop, alice)
    fake = SimpleUploadedFile("apple.jpg", b"<html><script>alert(1)</script></html>",
                              content_type="image/jpeg")
    response = api_on(None, alice).post(
        f"/api/v1/orders/{order.number}/reviews/",
        {"product": shop.sku_a.product_id, "stars": "5", "photos": [fake]},
        format="multipart")
    assert response.status_code == 400 and "photos" in response.json()["errors"]
    assert not Review.objects.exists() and not ReviewPhoto.objects.exists()


def test_a_photo_is_served_while_the_review_is_visible(province, shop, api_on, client_on):
    alice = buyer(province)
    order = bought(province, shop, alice)
    photo = SimpleUploadedFile("apple.png", png_bytes(), content_type="image/png")
    response = api_on(None, alice).post(
        f"/api/v1/orders/{order.number}/reviews/",
        {"product": str(shop.sku_a.product_id), "stars": "4", "text": "个大",
         "photos": [photo]}, format="multipart")
    assert response.status_code == 201, response.content
    url = response.json()["photos"][0]
    path = url.split("localhost", 1)[1]
    served = client_on(None).get(path)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert "sandbox" in served["Content-Security-Policy"]
    review = Review.objects.get()
    orders.review_hide(review=review, actor=province.a_manager, reason="照片不相关")
    assert client_on(None).get(path).status_code == 404
    assert client_on(None, alice).get(path).status_code == 200


def test_pages_write_show_and_sort(province, shop, client_on):
    alice = buyer(province, "李四")
    order = bought(province, shop, alice)
    product_id = shop.sku_a.product_id
    client = client_on(province.bank_a, alice)
    page = client.get(f"/orders/{order.number}/").content.decode()
    assert f'action="/orders/{order.number}/reviews/"' in page
    # bad input: the message on the page, nothing written
    bad = client.post(f"/orders/{order.number}/reviews/", {"product": product_id,
                                                           "text": "没选星"})
    assert bad.status_code == 400 and "没选星" in bad.content.decode()
    assert not Review.objects.exists()
    good = client.post(f"/orders/{order.number}/reviews/",
                       {"product": product_id, "stars": "5", "text": "脆甜多汁"})
    assert good.status_code == 302
    product_page = client_on(province.bank_b).get(f"/p/{product_id}/").content.decode()
    assert "脆甜多汁" in product_page and "李**" in product_page
    mine = client.get("/reviews/mine/").content.decode()
    assert "脆甜多汁" in mine
    # the best rated first when sorting by rating
    listing = client_on(province.bank_b).get("/search/", {"sort": "rating"})
    assert listing.status_code == 200
    products = listing.context["listing"].products
    assert product_id in [p.pk for p in products]
    ratings = [(p.rating_avg, p.rating_count) for p in products]
    assert ratings == sorted(ratings, reverse=True) and ratings[0][0] == Decimal("5.00")


def test_moderation_and_reply_pages(province, shop, client_on, api_on):
    alice = buyer(province)
    order = bought(province, shop, alice)
    post_review(api_on, alice, order, shop.sku_a.product_id, stars=1, text="太酸")
    review = Review.objects.get()
    console = client_on(province.bank_a, province.a_manager)
    assert "太酸" in console.get("/console/reviews/").content.decode()
    refused = console.post(f"/console/reviews/{review.pk}/hide/", {"reason": " "})
    assert refused.status_code == 400
    assert console.post(f"/console/reviews/{review.pk}/hide/",
                        {"reason": "辱骂"}).status_code == 302
    review.refresh_from_db()
    assert review.hidden_reason == "辱骂"
    assert client_on(province.bank_b, province.b_manager).get(
        "/console/reviews/").content.decode().count("太酸") == 0
    assert client_on(province.bank_b, province.b_manager).post(
        f"/console/reviews/{review.pk}/unhide/").status_code == 404
    owner = shop.merchant_a.members.get().user
    merchant_page = client_on(province.bank_a, owner)
    assert "太酸" in merchant_page.get(f"/merchant/{shop.merchant_a.pk}/reviews/").content.decode()
    assert merchant_page.post(f"/merchant/{shop.merchant_a.pk}/reviews/{review.pk}/reply/",
                              {"reply": "抱歉，已联系您退换"}).status_code == 302
    review.refresh_from_db()
    assert review.reply == "抱歉，已联系您退换"


def test_a_review_changes_what_cached_storefront_pages_show(province, shop, api_on,
                                                           django_capture_on_commit_callbacks):
    alice = buyer(province)
    order = bought(province, shop, alice)
    before = page_cache.catalog_version()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_review(api_on, alice, order, shop.sku_a.product_id).status_code == 201
    assert page_cache.catalog_version() != before


def test_demo_reviews_are_written_once(province, shop):

    alice = buyer(province)
    order = bought(province, shop, alice)
    first = load_demo_reviews(banks=[province.bank_a]).counts["reviews"]
    assert first >= 1 and Review.objects.filter(order=order).count() == 1
    assert load_demo_reviews(banks=[province.bank_a]).counts["reviews"] == 0
    assert Product.objects.get(pk=shop.sku_a.product_id).rating_count == 1

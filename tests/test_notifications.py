"""The inbox: events of orders, lending and admission reach the people concerned once,
after commit; text messages go out as each person's preference says, through a retried
task; the API shows a person only their own.

Receivers act after commit: tests run the on-commit callbacks of the action they look at
(``django_capture_on_commit_callbacks(execute=True)``). Tasks run eagerly here, in this
process, so that the SMS backend's outbox and its retries can be seen.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.services import user_register
from admission import services as admission
from catalog.models import MerchantMember
from config.celery import app as celery_app
from core import sms
from fixtures.notifications_demo import load_demo_notifications
from fixtures.orders_demo import ADDRESSES, load_demo_trade
from lending import services as lending
from lending.models import ApplicationStatus, ScheduleLine
from notifications import receivers, reminders, services
from notifications.models import Kind, Notification
from orders import services as orders
from orders.models import Fulfilment, OrderEvent
from rewards.models import PointsLot
from rewards.services import ledger as points_ledger
from tests import unique
from tests.catalog_factories import apply_merchant
from tests.lending_factories import buyer, lenient_policy, scored_buyer, scored_merchant
from tests.orders_factories import market, pay, place, product_with_sku

pytestmark = pytest.mark.django_db


def rows(user, kind=None):
    qs = Notification.objects.filter(user=user)
    return qs.filter(kind=kind) if kind else qs


def owner_of(merchant):
    return merchant.members.get().user


@pytest.fixture
def texts(settings):
    """Text messages kept in core.sms.outbox; Celery tasks run in this process."""
    settings.SMS_BACKEND = "core.sms.LocmemBackend"
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()
    celery_app.conf.task_always_eager = eager


class FlakyBackend:
    """An SMS gateway that fails ``failures`` times, then delivers."""

    failures = 1
    calls = 0

    def send(self, phone: str, text: str) -> None:
        FlakyBackend.calls += 1
        if FlakyBackend.calls <= FlakyBackend.failures:
            raise ConnectionError("gateway down")
        sms.outbox.append(sms.Message(phone, text))


# --- orders ---------------------------------------------------------------------------------


def test_paying_a_checkout_notifies_the_buyer_once_and_each_merchant_once(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    me = buyer()
    checkout = place(me, province.bank_a, [(shop.sku_a, 2), (shop.sku_b, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    # One checkout, two orders: one message to the buyer, one to each shop.
    paid = rows(me).get()
    assert paid.kind == Kind.ORDER_PAID and checkout.number in paid.body
    assert paid.link == f"/checkouts/{checkout.number}/" and paid.bank == province.bank_a
    for merchant in (shop.merchant_a, shop.merchant_b):
        new = rows(owner_of(merchant), Kind.NEW_ORDER).get()
        order = checkout.orders.get(merchant=merchant)
        assert order.number in new.body
        assert new.link == f"/merchant/{merchant.pk}/orders/{order.number}/"
        assert new.bank == merchant.bank

    # The signal sent again, and the callback run again: still one row each.
    event = OrderEvent.objects.filter(order__checkout=checkout, kind="pay").first()
    with django_capture_on_commit_callbacks(execute=True):
        post_save.send(OrderEvent, instance=event, created=True)
    receivers.deliver_order_event(event.pk)
    assert rows(me).count() == 1
    assert rows(owner_of(shop.merchant_a), Kind.NEW_ORDER).count() == 1
    assert rows(owner_of(shop.merchant_b), Kind.NEW_ORDER).count() == 1


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_each_person_is_written_to_in_the_language_they_chose(
        province, client_on, api_on, django_capture_on_commit_callbacks):
    shop = market(province)
    me = buyer()
    page = client_on(province.bank_a, me)
    switched = page.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert switched.status_code == 302
    me.refresh_from_db()
    assert me.language == "en"
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    mine = rows(me).get()
    theirs = rows(owner_of(shop.merchant_a), Kind.NEW_ORDER).get()
    assert not has_chinese(mine.title + mine.body)  # the buyer chose English
    assert has_chinese(theirs.title)  # the shop's owner chose nothing: Chinese

    api = api_on(province.bank_a, me)
    bad = api.patch("/api/v1/me/", {"language": "fr"}, format="json")
    assert bad.status_code == 400 and "language" in bad.json()["errors"]
    me.refresh_from_db()
    assert me.language == "en"
    back = api.patch("/api/v1/me/", {"language": "zh-hans"}, format="json")
    assert back.status_code == 200 and back.json()["language"] == "zh-hans"


def test_registering_on_an_english_page_keeps_english_for_the_notifications(
        province, client_on):
    client = client_on(province.bank_a)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    name = f"t-lang-{unique.tag()}"
    made = client.post("/accounts/register/", {
        "username": name, "password1": province.password, "password2": province.password,
        "phone": "", "display_name": "", "privacy_accepted": "on"})
    assert made.status_code == 302
    assert get_user_model().objects.get(username=name).language == "en"


def test_a_message_in_the_thread_reaches_the_other_side_once(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    me = buyer()
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])
    pay(checkout)
    order = checkout.orders.get()
    seller = owner_of(shop.merchant_a)
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_message_post(order=order, author=me, body="请问什么时候发货？")
    to_shop = rows(seller, Kind.ORDER_MESSAGE).get()
    assert "请问什么时候发货？" in to_shop.body and order.number in to_shop.title
    assert to_shop.link == f"/merchant/{shop.merchant_a.pk}/orders/{order.number}/#thread"
    assert not rows(me, Kind.ORDER_MESSAGE).exists()  # not to the one who wrote
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_message_post(order=order, author=seller, body="明天上午发出。")
    to_me = rows(me, Kind.ORDER_MESSAGE).get()
    assert "明天上午发出。" in to_me.body and shop.merchant_a.name in to_me.body
    assert to_me.link == f"/orders/{order.number}/#thread"
    assert rows(seller, Kind.ORDER_MESSAGE).count() == 1
    assert not rows(owner_of(shop.merchant_b), Kind.ORDER_MESSAGE).exists()


def test_invoices_and_disputes_reach_the_other_side(province,
                                                   django_capture_on_commit_callbacks):
    shop = market(province)
    me = buyer()
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    order = checkout.orders.get()
    member = owner_of(shop.merchant_a)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = orders.invoice_request(order=order, actor=me, kind="individual",
                                         title="张三")
    asked = rows(member, Kind.INVOICE_REQUESTED).get()
    assert order.number in asked.body and asked.link.startswith(
        f"/merchant/{shop.merchant_a.pk}/orders/")
    with django_capture_on_commit_callbacks(execute=True):
        orders.invoice_reject(invoice=invoice, actor=member, reason="抬头有误，请重新申请")
    refused = rows(me, Kind.INVOICE_DECIDED).get()
    assert "抬头有误" in refused.body and refused.link == f"/orders/{order.number}/"

    with django_capture_on_commit_callbacks(execute=True):
        orders.order_dispute_raise(order=order, actor=me, reason="一直不发货")
    assert "一直不发货" in rows(member, Kind.DISPUTE_RAISED).get().body
    staff = rows(province.a_manager, Kind.DISPUTE_RAISED).get()
    assert staff.link == f"/console/orders/{order.number}/"
    assert not rows(me, Kind.DISPUTE_RAISED).exists()  # who raised it is not told


def test_a_rolled_back_action_notifies_no_one(province, django_capture_on_commit_callbacks):
    shop = market(province)
    me = buyer()
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    order = checkout.orders.get()

    def ship_then_fail():
        with transaction.atomic():
            orders.order_ship(order=order, actor=owner_of(shop.merchant_a), carrier="顺丰",
                              tracking_number="SF1234567890")
            raise RuntimeError("the request failed after the shipment was written")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, \
            pytest.raises(RuntimeError):
        ship_then_fail()
    assert callbacks == []
    assert not rows(me, Kind.ORDER_SHIPPED).exists()

    with django_capture_on_commit_callbacks(execute=True):
        orders.order_ship(order=order, actor=owner_of(shop.merchant_a), carrier="顺丰",
                          tracking_number="SF1234567890")
    assert "SF1234567890" in rows(me, Kind.ORDER_SHIPPED).get().body


def test_a_receiver_that_fails_never_breaks_the_action(province, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    shop = market(province)
    me = buyer()
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])

    def broken(*args, **kwargs):
        raise RuntimeError("inbox down")

    monkeypatch.setattr(receivers, "notify", broken)
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    checkout.refresh_from_db()
    assert checkout.status == "paid" and not rows(me).exists()


def _pickup_order(province, django_capture_on_commit_callbacks, *, phone=True):
    shop = market(province)
    me = buyer(phone=unique.mobile() if phone else "")
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)], fulfilment={
        shop.merchant_a.pk: orders.FulfilmentChoice(Fulfilment.PICKUP, province.a_branch.pk)})
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    return me, checkout.orders.get(), owner_of(shop.merchant_a)


def test_ready_for_pickup_texts_the_code_when_the_preference_is_on(
        province, texts, django_capture_on_commit_callbacks):
    me, order, owner = _pickup_order(province, django_capture_on_commit_callbacks)
    assert texts == []  # "paid" comes by text only if asked for
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_ready_for_pickup(order=order, actor=owner)
    order.refresh_from_db()
    ready = rows(me, Kind.PICKUP_READY).get()
    assert order.pickup_code in ready.body and province.a_branch.name in ready.body
    assert [m.phone for m in texts] == [me.phone]
    assert order.pickup_code in texts[0].text
    assert ready.texted_at is not None
    # Sent once: a task run again sends nothing more.
    assert services.notification_text_send(notification_id=ready.pk) is False
    assert len(texts) == 1


def test_no_text_when_the_preference_is_off(province, texts,
                                            django_capture_on_commit_callbacks):
    me, order, owner = _pickup_order(province, django_capture_on_commit_callbacks)
    services.preferences_set(user=me, by_text={Kind.PICKUP_READY: False})
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_ready_for_pickup(order=order, actor=owner)
    assert rows(me, Kind.PICKUP_READY).get().texted_at is None
    assert texts == []


def test_a_failing_sms_gateway_is_retried_and_the_inbox_has_the_event(
        province, texts, settings, django_capture_on_commit_callbacks):
    me, order, owner = _pickup_order(province, django_capture_on_commit_callbacks)
    settings.SMS_BACKEND = "tests.test_notifications.FlakyBackend"
    FlakyBackend.calls, FlakyBackend.failures = 0, 2
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_ready_for_pickup(order=order, actor=owner)
    order.refresh_from_db()
    assert FlakyBackend.calls == 3  # two failures, then delivered
    assert [m.phone for m in texts] == [me.phone] and order.pickup_code in texts[0].text
    assert rows(me, Kind.PICKUP_READY).get().texted_at is not None


def test_a_gateway_that_never_answers_leaves_the_inbox_and_the_order_alone(
        province, texts, settings, django_capture_on_commit_callbacks):
    me, order, owner = _pickup_order(province, django_capture_on_commit_callbacks)
    settings.SMS_BACKEND = "tests.test_notifications.FlakyBackend"
    FlakyBackend.calls, FlakyBackend.failures = 0, 10**6
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_ready_for_pickup(order=order, actor=owner)
    order.refresh_from_db()
    assert order.status == "ready_for_pickup"
    assert FlakyBackend.calls > 1  # retried
    ready = rows(me, Kind.PICKUP_READY).get()
    assert ready.texted_at is None and texts == []


def test_a_refund_request_reaches_the_merchant_and_its_decision_the_buyer(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    me = buyer()
    checkout = place(me, province.bank_a, [(shop.sku_a, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    order, owner = checkout.orders.get(), owner_of(shop.merchant_a)
    with django_capture_on_commit_callbacks(execute=True):
        refund = orders.refund_request(order=order, actor=me, amount="10.00",
                                       reason="有一个坏了")
    asked = rows(owner, Kind.REFUND_REQUESTED).get()
    assert "10.00" in asked.body and "有一个坏了" in asked.body
    with django_capture_on_commit_callbacks(execute=True):
        orders.refund_decide(refund=refund, actor=owner, approve=False, note="照片看不出")
    assert "照片看不出" in rows(me, Kind.REFUND_DECIDED).get().body
    # A refund the merchant makes itself asks nothing of the merchant.
    with django_capture_on_commit_callbacks(execute=True):
        orders.refund_issue(order=order, actor=owner, amount="5.00", reason="少发一个")
    assert rows(owner, Kind.REFUND_REQUESTED).count() == 1
    assert rows(me, Kind.REFUND_DECIDED).count() == 2


# --- lending and admission ------------------------------------------------------------------


def test_an_application_reaches_the_credit_officers_and_its_decision_the_applicant(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    bank = province.bank_a
    lenient_policy(bank, province.a_admin, auto_tiers="")
    checkout = place(buyer(), bank, [(shop.sku_a, 4)])
    pay(checkout)
    scored_merchant(bank, shop.merchant_a, province.a_manager)
    owner = owner_of(shop.merchant_a)
    with schema_context(bank.schema_name):
        with django_capture_on_commit_callbacks(execute=True):
            app = lending.order_financing_apply(bank=bank, order=checkout.orders.get(),
                                                actor=owner)
        assert app.status == ApplicationStatus.IN_REVIEW
    # (other test modules commit applications of this bank too: this one's, by its link)
    review = rows(province.a_credit, Kind.APPLICATION_SUBMITTED).get(
        link=f"/console/lending/applications/{app.pk}/")
    assert shop.merchant_a.name in review.body and review.bank == bank
    assert not rows(province.b_admin).exists()  # another bank's staff hear nothing
    with schema_context(bank.schema_name), django_capture_on_commit_callbacks(execute=True):
        lending.application_decide(bank=bank, application=app, officer=province.a_credit,
                                   approve=False, note="经营时间太短")
    decided = rows(owner, Kind.FINANCING_DECIDED).get()
    assert "经营时间太短" in decided.body
    assert decided.link == f"/merchant/{shop.merchant_a.pk}/financing/"


def test_instalments_at_checkout_then_reminders_due_soon_and_overdue_once(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    bank = province.bank_a
    lenient_policy(bank, province.a_admin)
    me = buyer()
    pay(place(me, bank, [(shop.sku_a, 8)]))
    scored_buyer(bank, me)
    with schema_context(bank.schema_name):
        with django_capture_on_commit_callbacks(execute=True):
            app = lending.checkout_finance(bank=bank, checkout=place(me, bank, [
                (shop.sku_a, 2)]), buyer=me, months=3)
        first = ScheduleLine.objects.get(loan_id=app.loan.pk, seq=1)
    approved = rows(me, Kind.FINANCING_DECIDED).get()
    assert approved.bank == bank and approved.link == "/credit/loans/"

    # Daily runs: one reminder for this instalment, however often they run (other test
    # modules commit loans of this bank too, so the run's own count is not this one's).
    for _run in range(2):
        reminders.instalment_reminders(bank=bank, today=first.due_date - timedelta(days=2))
        assert rows(me, Kind.INSTALMENT_DUE).count() == 1
    due = rows(me, Kind.INSTALMENT_DUE).get()
    assert first.due_date.isoformat() in due.body and app.loan.number in due.body
    assert due.link == f"/credit/loans/{app.loan.pk}/"
    for _run in range(2):
        reminders.instalment_reminders(bank=bank, today=first.due_date + timedelta(days=1))
    assert rows(me, Kind.INSTALMENT_OVERDUE).count() == 1
    assert not rows(me).filter(bank=province.bank_b).exists()


def test_points_about_to_expire_are_announced_once_per_expiry_date(province):
    bank = province.bank_a
    me = buyer()
    with schema_context(bank.schema_name):
        for points, ref in ((120, "a"), (30, "b")):
            points_ledger._earn(bank=bank, user_id=me.pk, points=points,
                                reference=f"test:{unique.tag(8)}:{ref}", note="test")
        expires_on = PointsLot.objects.filter(user_id=me.pk).first().expires_on
    # A month and a half before: too early. Twenty days before: once, however often.
    reminders.points_expiry_reminders(bank=bank, today=expires_on - timedelta(days=45))
    assert not rows(me, Kind.POINTS_EXPIRING).exists()
    for _run in range(2):
        reminders.points_expiry_reminders(bank=bank, today=expires_on - timedelta(days=20))
    told = rows(me, Kind.POINTS_EXPIRING).get()
    assert "150" in told.body and expires_on.isoformat() in told.body
    assert (told.bank, told.link) == (bank, "/points/")
    # Spent or expired points are not announced: the next day's run adds nothing.
    reminders.points_expiry_reminders(bank=bank, today=expires_on)
    assert rows(me, Kind.POINTS_EXPIRING).count() == 1


def test_admission_decision_reaches_the_merchant(province, django_capture_on_commit_callbacks):
    bank = province.bank_a
    dossier = apply_merchant(bank, name=f"丙果园{unique.tag()}")
    with schema_context(bank.schema_name), django_capture_on_commit_callbacks(execute=True):
        admission.review_start(dossier=dossier, actor=province.a_manager)
        admission.merchant_reject(dossier=dossier, actor=province.a_manager,
                                  reason="营业执照过期")
    member = MerchantMember.objects.get(merchant_id=dossier.merchant_id).user
    decided = rows(member, Kind.ADMISSION_DECIDED).get()
    assert "营业执照过期" in decided.body and decided.bank == bank


# --- the API and the pages ------------------------------------------------------------------


def _some(user, n=3):
    return [services.notify(recipients=[user], kind=Kind.ORDER_SHIPPED,
                            dedupe_key=f"test:{unique.tag()}",
                            compose=lambda i=i: (f"title {i}", f"body {i}"),
                            link="/orders/")[0] for i in range(n)]


def test_api_lists_reads_and_reads_all_and_hides_other_peoples(province, api_on):
    me, other = buyer(), buyer()
    mine, theirs = _some(me), _some(other, 1)[0]
    api = api_on(province.bank_a, me)
    listed = api.get("/api/v1/me/notifications/?per_page=2").json()
    assert (listed["total"], listed["unread"], listed["pages"]) == (3, 3, 2)
    assert [r["id"] for r in listed["results"]] == [mine[2].pk, mine[1].pk]
    assert listed["results"][0]["url"] == "/orders/" and not listed["results"][0]["read"]

    answer = api.post(f"/api/v1/me/notifications/{mine[0].pk}/read/")
    assert answer.status_code == 200 and answer.json()["read"] is True
    assert api.get("/api/v1/me/notifications/").json()["unread"] == 2

    assert api.post(f"/api/v1/me/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None

    assert api.post("/api/v1/me/notifications/read-all/").json() == {"marked": 2}
    assert api.get("/api/v1/me/notifications/").json()["unread"] == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_api_settings_read_and_change_what_comes_by_text(province, api_on):
    me = buyer()
    api = api_on(None, me)
    prefs = {p["kind"]: p["by_text"]
             for p in api.get("/api/v1/me/notification-settings/").json()["preferences"]}
    assert prefs[Kind.PICKUP_READY] is True and prefs[Kind.ORDER_SHIPPED] is False
    assert Kind.NEW_ORDER not in prefs  # not a merchant
    answer = api.put("/api/v1/me/notification-settings/", {"preferences": [
        {"kind": "pickup_ready", "by_text": False}, {"kind": "order_shipped", "by_text": True}]})
    assert answer.status_code == 200
    prefs = {p["kind"]: p["by_text"] for p in answer.json()["preferences"]}
    assert (prefs[Kind.PICKUP_READY], prefs[Kind.ORDER_SHIPPED]) == (False, True)
    bad = api.put("/api/v1/me/notification-settings/", {"preferences": [
        {"kind": "no_such_kind", "by_text": True}]})
    assert bad.status_code == 400
    bad = api.put("/api/v1/me/notification-settings/", {"preferences": [
        {"kind": "order_shipped", "by_text": "yes"}]})
    assert bad.status_code == 400
    assert services.wants_text(user=me, kind=Kind.ORDER_SHIPPED) is True


def test_pages_inbox_open_read_all_and_settings(province, client_on):
    me, other = buyer(), buyer()
    mine, theirs = _some(me, 2), _some(other, 1)[0]
    client = client_on(province.bank_a, me)
    page = client.get("/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "title 0" in html and "title 1" in html and "inboxbadge" in html
    assert client.get(f"/notifications/{theirs.pk}/").status_code == 404
    opened = client.get(f"/notifications/{mine[0].pk}/")
    assert opened.status_code == 302 and opened["Location"] == "/orders/"
    mine[0].refresh_from_db()
    assert mine[0].read_at is not None
    client.post("/notifications/read-all/")
    assert not rows(me).filter(read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    saved = client.post("/notifications/settings/", {"by_text": ["order_shipped"]})
    assert saved.status_code == 302
    assert services.wants_text(user=me, kind=Kind.ORDER_SHIPPED) is True
    assert services.wants_text(user=me, kind=Kind.PICKUP_READY) is False
    refused = client.post("/notifications/settings/", {"by_text": ["no_such_kind"]})
    assert refused.status_code == 200 and services.wants_text(
        user=me, kind=Kind.ORDER_SHIPPED) is True


def test_a_link_of_another_bank_opens_on_that_banks_domain(province, client_on):
    me = buyer()
    row = services.notify(recipients=[me], kind=Kind.ORDER_SHIPPED, dedupe_key="test:bank-b",
                          compose=lambda: ("t", "b"), link="/credit/loans/",
                          bank=province.bank_b)[0]
    opened = client_on(province.bank_a, me).get(f"/notifications/{row.pk}/")
    assert opened["Location"] == "http://bank-b.localhost/credit/loans/"


def test_the_demo_shoppers_inbox_is_loaded_once(province):
    shop = market(province, stock_a=200, stock_b=200)
    product_with_sku(shop.merchant_a, name="甲县脐橙", price="29.90", stock=100)
    product_with_sku(shop.merchant_b, name="乙县土蜂蜜", price="88.00", stock=100)
    for username in ADDRESSES:
        user_register(username=username, password=province.password)
    banks = [province.bank_a, province.bank_b]
    assert load_demo_trade(banks=banks).skipped == ""
    first = load_demo_notifications(banks=banks)
    li = get_user_model().objects.get(username="shopper-li")
    kinds = set(rows(li).values_list("kind", flat=True))
    assert {Kind.ORDER_PAID, Kind.ORDER_SHIPPED, Kind.PICKUP_READY} <= kinds
    chen = get_user_model().objects.get(username="buyer-chen")
    assert first.counts["notifications"] >= len(kinds) + 1
    assert Notification.objects.filter(kind=Kind.REFUND_REQUESTED,
                                       body__contains="两箱外包装破损").exists()
    assert rows(chen, Kind.ORDER_PAID).exists()
    assert load_demo_notifications(banks=banks).counts == {"notifications": 0}


def test_the_badge_costs_one_count_for_a_signed_in_person_and_none_otherwise(province,
                                                                             client_on):
    me = buyer()
    _some(me, 2)

    def inbox_queries(client) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/cart/").status_code == 200
        return [q["sql"] for q in queries if "notifications_notification" in q["sql"]]

    signed_in = inbox_queries(client_on(province.bank_a, me))
    assert len(signed_in) == 1 and "COUNT" in signed_in[0].upper()
    assert inbox_queries(client_on(province.bank_a)) == []

"""Nothing is oversold under concurrency: many buyers check out at the same moment, each in
a thread with its own database session, through the real services (cart, checkout,
cancellation) on the real database.

The data is committed (other sessions must see it), so it is made once for the module with
names of its own and its orders, flash sales and carts are deleted at the end. The
sessions are limited to ``SESSIONS`` at a time: the PostgreSQL server's connections
(100) are shared with everything else running on it. Each session takes the next buyer's
job from a queue until the queue is empty; all sessions start together at a barrier.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from catalog.models import Sku
from catalog.services import product_transition
from core.errors import ApplicationError
from orders import services as orders
from orders.models import (
    Cart,
    CartItem,
    Checkout,
    CheckoutStatus,
    FlashSale,
    FlashSaleTake,
    Order,
    OrderLine,
)
from payments import services as payments
from tests import unique
from tests.orders_factories import ADDRESS, product_with_sku

# django_db: the test database is set up for the module, and the main thread's
# session only reads (inside its test transaction, it sees what the other sessions commit);
# every write runs in a session of its own and commits.
pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]

SESSIONS = 20
BUYERS = 100
TAG = unique.tag()


# --- running jobs in concurrent sessions ---------------------------------------------------


def run_concurrently(jobs, *, sessions: int = SESSIONS, timeout: float = 60.0) -> list:
    """Run the callables ``jobs`` in ``sessions`` threads, each with its own database
    connection, released together. Returns one (True, result) or (False, exception) per
    job, in the order of ``jobs``."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for index, job in enumerate(jobs):
        todo.put((index, job))
    outcomes: list = [None] * len(jobs)
    sessions = min(sessions, len(jobs))
    barrier = threading.Barrier(sessions)

    def session():
        try:
            connection.ensure_connection()  # connect before the start, not in the race
            barrier.wait(timeout=timeout)
            while True:
                try:
                    index, job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcomes[index] = (True, job())
                except Exception as exc:  # noqa: BLE001 - every failure is asserted on
                    outcomes[index] = (False, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=session, daemon=True) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a session hung (lock wait?)"
    assert None not in outcomes, "a job did not run"
    return outcomes


def committed(fn):
    """Run ``fn`` in a session of its own, committed when it returns."""
    ok, result = run_concurrently([fn], sessions=1)[0]
    if not ok:
        raise result
    return result


class StockWatch:
    """Reads a SKU's stock in its own session as fast as it can while the buyers run;
    ``lowest`` is the lowest value seen."""

    def __init__(self, sku_id: int):
        self.sku_id, self.lowest, self.reads = sku_id, None, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        try:
            with connection.cursor() as cur:
                while not self._stop.is_set():
                    cur.execute("SELECT stock FROM catalog_sku WHERE id = %s", [self.sku_id])
                    stock = cur.fetchone()[0]
                    self.lowest = stock if self.lowest is None else min(self.lowest, stock)
                    self.reads += 1
                    time.sleep(0.002)
        finally:
            connection.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def buy(buyer, bank, lines, *, cart: Cart | None = None):
    """What a shopper does: fill the cart, check out (delivery to an address)."""
    cart = cart or orders.cart_get_or_create(user=buyer)
    for sku, quantity in lines:
        orders.cart_add(cart=cart, sku_id=sku.pk, quantity=quantity)
    return orders.checkout_place(buyer=buyer, cart=cart, storefront_bank=bank,
                                 delivery=ADDRESS)


def failure_codes(outcomes) -> Counter:
    return Counter(o[1].code if isinstance(o[1], ApplicationError) else type(o[1]).__name__
                   for o in outcomes if not o[0])


def stock_of(sku) -> int:
    return Sku.objects.get(pk=sku.pk).stock


def live_lines(**filters):
    """Order lines of checkouts that still hold their reservation."""
    return OrderLine.objects.filter(order__checkout__status__in=[
        CheckoutStatus.PENDING_PAYMENT, CheckoutStatus.PAID], **filters)


def flash_sale_now(sku, *, quantity: int, limit: int, title: str) -> FlashSale:
    now = timezone.now()
    return orders.flash_sale_create(sku=sku, title=title, price="9.90",
                                    starts_at=now - timedelta(minutes=1),
                                    ends_at=now + timedelta(hours=1), quantity=quantity,
                                    per_customer_limit=limit)


# --- committed data for the module ---------------------------------------------------------


@pytest.fixture(scope="module")
def rush(province, django_db_blocker):
    """A merchant of bank A with the SKUs the cases race on, and the buyers (committed)."""
    from accounts.services import user_register
    from tests.catalog_factories import approved_merchant

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        merchant, _dossier = approved_merchant(province.bank_a, province.a_manager,
                                               name=f"抢购测试果园{TAG}")

        def sku(name, stock):
            return product_with_sku(merchant, name=f"{name}{TAG}", price="39.90", stock=stock)

        data = SimpleNamespace(
            merchant=merchant,
            hot=sku("爆款苹果", 25),
            flash=sku("秒杀蜂蜜", 200),
            flash_back=sku("秒杀红枣", 30),
            plain_back=sku("普通核桃", 40),
            buyers=[user_register(username=f"rush-{TAG}-{n:03d}", password=province.password)
                    for n in range(BUYERS)],
        )
    yield data
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        skus = [data.hot, data.flash, data.flash_back, data.plain_back]
        mine = Order.objects.filter(merchant=merchant)
        checkouts = list(mine.values_list("checkout_id", flat=True))
        mine.delete()  # lines and events go with them
        Checkout.objects.filter(pk__in=checkouts, orders__isnull=True).delete()
        FlashSale.objects.filter(sku__in=skus).delete()  # and the takes
        Cart.objects.filter(user__in=data.buyers).delete()
        CartItem.objects.filter(sku__in=skus).delete()
        for s in skus:
            product_transition(product=s.product, action="delist")


# --- the cases -----------------------------------------------------------------------------


def test_a_hot_sku_sells_exactly_its_stock(province, rush):
    sku = rush.hot
    assert stock_of(sku) == 25
    jobs = [lambda b=b: buy(b, province.bank_a, [(sku, 1)]) for b in rush.buyers]

    with StockWatch(sku.pk) as watch:
        outcomes = run_concurrently(jobs)

    won = [o[1] for o in outcomes if o[0]]
    assert len(won) == 25
    assert failure_codes(outcomes) == Counter(out_of_stock=BUYERS - 25)
    assert stock_of(sku) == 0
    assert watch.reads > 0 and watch.lowest >= 0
    assert live_lines(sku=sku).aggregate(n=Sum("quantity"))["n"] == 25
    assert OrderLine.objects.filter(sku=sku).count() == 25  # the refused left nothing
    assert len({c.buyer_id for c in won}) == 25
    # The refused buyers keep their cart line; the winners' carts are empty.
    winners = {c.buyer_id for c in won}
    for buyer in rush.buyers:
        in_cart = CartItem.objects.filter(cart__user=buyer, sku=sku).exists()
        assert in_cart == (buyer.pk not in winners)
    committed(lambda: CartItem.objects.filter(cart__user__in=rush.buyers).delete())


def test_b_flash_sale_sells_its_quantity_and_keeps_the_cap(province, rush):
    sku = rush.flash
    stock_before = stock_of(sku)
    sale = committed(lambda: flash_sale_now(sku, quantity=10, limit=2,
                                            title=f"蜂蜜秒杀{TAG}"))
    buyers = rush.buyers[:40]
    # 40 buyers want 1, 2 or 3 (3 is over the cap). Among those wanting 2: four fire
    # two checkouts at once, each from its own cart (say, two devices); two others
    # submit the same cart twice at once (a double click) with 1 in it.
    wants = {b.pk: (1, 2, 3)[n % 3] for n, b in enumerate(buyers)}
    two_carts = [b for b in buyers if wants[b.pk] == 2][:4]
    double_click = [b for b in buyers if wants[b.pk] == 2][4:6]
    for b in double_click:
        wants[b.pk] = 1
    assert sum(1 for b in buyers if wants[b.pk] == 1 and b not in double_click) >= 10

    jobs, kinds, spare_carts = [], [], []
    for b in buyers:
        if b in double_click:
            committed(lambda b=b: orders.cart_add(cart=orders.cart_get_or_create(user=b),
                                                  sku_id=sku.pk, quantity=1))

            def submit(b=b):  # the cart as it is, as the checkout page submits it
                return orders.checkout_place(buyer=b, cart=orders.cart_get_or_create(user=b),
                                             storefront_bank=province.bank_a,
                                             delivery=ADDRESS)

            jobs += [submit, submit]
            kinds += [("click", b), ("click", b)]
        elif b in two_carts:
            second = committed(orders.cart_get_or_create)  # another cart of the same buyer
            spare_carts.append(second.pk)
            jobs += [lambda b=b: buy(b, province.bank_a, [(sku, 2)]),
                     lambda b=b, c=second: buy(b, province.bank_a, [(sku, 2)], cart=c)]
            kinds += [("two", b), ("two", b)]
        else:
            jobs.append(lambda b=b: buy(b, province.bank_a, [(sku, wants[b.pk])]))
            kinds.append((wants[b.pk], b))

    with StockWatch(sku.pk) as watch:
        outcomes = run_concurrently(jobs)

    codes = failure_codes(outcomes)
    assert set(codes) <= {"sold_out", "flash_limit", "invalid"}, codes
    sale.refresh_from_db()
    flash = live_lines(flash_sale=sale)
    assert sale.sold == 10
    assert flash.aggregate(n=Sum("quantity"))["n"] == 10
    # Units over the cap are lines of their own at the retail price, never at the flash one.
    assert not OrderLine.objects.filter(sku=sku, flash_sale__isnull=True,
                                        unit_price=sale.price).exists()
    all_units = live_lines(sku=sku).aggregate(n=Sum("quantity"))["n"]
    assert stock_of(sku) == stock_before - all_units
    assert watch.lowest >= stock_before - all_units

    held = defaultdict(int)
    for line in flash.select_related("order"):
        held[line.order.buyer_id] += line.quantity
    takes = {t.user_id: t.quantity for t in FlashSaleTake.objects.filter(flash_sale=sale)}
    assert max(held.values()) <= 2
    for b in buyers:
        assert takes.get(b.pk, 0) == held.get(b.pk, 0), b.username
    by_kind = defaultdict(list)
    for (kind, b), outcome in zip(kinds, outcomes, strict=True):
        by_kind[kind].append((b, outcome))
    # Over the cap: at most 2 at the flash price, the third at the retail price (or, once
    # the sale is gone, refused as sold out).
    for _b, (ok, result) in by_kind[3]:
        if not ok:
            assert result.code == "sold_out"
            continue
        lines = {(line.price_kind, line.quantity, line.unit_price)
                 for line in OrderLine.objects.filter(order__checkout=result)}
        assert lines == {("flash", 2, sale.price), ("retail", 1, sku.price)}, lines
    # Two checkouts of 2 at once, from two carts: together at most 2 units at the flash
    # price; the other, if it gets through (not refused over the cap while the first is in
    # flight), pays the retail price for its units, as a third unit does above.
    for b in two_carts:
        wins = [r for bb, (ok, r) in by_kind["two"] if bb == b and ok]
        lines = list(OrderLine.objects.filter(order__checkout__in=wins))
        assert sum(line.quantity for line in lines if line.price_kind == "flash") <= 2
        assert all(line.unit_price == sku.price for line in lines
                   if line.price_kind != "flash"), lines
    # One cart submitted twice: one checkout at most, of what the cart held.
    for b in double_click:
        assert sum(ok for bb, (ok, _r) in by_kind["click"] if bb == b) <= 1
        assert held.get(b.pk, 0) <= 1
    committed(lambda: CartItem.objects.filter(cart__user__in=buyers).delete())
    committed(lambda: Cart.objects.filter(pk__in=spare_carts).delete())


def test_c_cancelling_gives_stock_and_flash_quantity_back_exactly(province, rush):
    flash_sku, plain_sku = rush.flash_back, rush.plain_back
    flash_stock, plain_stock = stock_of(flash_sku), stock_of(plain_sku)
    sale = committed(lambda: flash_sale_now(flash_sku, quantity=8, limit=2,
                                            title=f"红枣秒杀{TAG}"))
    first, newcomers = rush.buyers[40:48], rush.buyers[48:60]

    # Eight buyers take the whole flash quantity, each with 2 of a plain SKU beside it.
    placed = run_concurrently(
        [lambda b=b: buy(b, province.bank_a, [(plain_sku, 2), (flash_sku, 1)]) for b in first])
    assert all(ok for ok, _c in placed)
    checkouts = [c for _ok, c in placed]
    sale.refresh_from_db()
    assert sale.sold == 8

    # At once: four of those checkouts are each cancelled twice -- by the reservation's
    # expiry and by the buyer -- while twelve newcomers try to buy what comes free.
    def expire(c):
        return orders.checkout_cancel(checkout=c, reason="Not paid in time")

    def abandon(c):
        return payments.checkout_abandon(checkout=c, buyer=c.buyer)

    doomed = checkouts[:4]
    jobs = []
    for c in doomed:
        jobs += [lambda c=c: expire(c), lambda c=c: abandon(c)]
    jobs += [lambda b=b: buy(b, province.bank_a, [(flash_sku, 1), (plain_sku, 1)])
             for b in newcomers]
    with StockWatch(flash_sku.pk) as watch:
        outcomes = run_concurrently(jobs)

    cancels, buys = outcomes[:8], outcomes[8:]
    for pair in (cancels[i:i + 2] for i in range(0, 8, 2)):  # exactly one of each pair won
        assert sorted(ok for ok, _r in pair) == [False, True]
        assert next(r for ok, r in pair if not ok).code == "illegal_transition"
    assert set(failure_codes(buys)) <= {"sold_out"}
    assert sum(ok for ok, _r in buys) <= 4
    assert watch.lowest >= 0

    def assert_books_balance():
        sale.refresh_from_db()
        flash_held = live_lines(sku=flash_sku).aggregate(n=Sum("quantity"))["n"] or 0
        plain_held = live_lines(sku=plain_sku).aggregate(n=Sum("quantity"))["n"] or 0
        assert sale.sold == flash_held
        assert stock_of(flash_sku) == flash_stock - flash_held
        assert stock_of(plain_sku) == plain_stock - plain_held
        per_buyer = defaultdict(int)
        for line in live_lines(flash_sale=sale).select_related("order"):
            per_buyer[line.order.buyer_id] += line.quantity
        for take in FlashSaleTake.objects.filter(flash_sale=sale):
            assert take.quantity == per_buyer.get(take.user_id, 0)

    assert_books_balance()
    assert sale.sold == 4 + sum(ok for ok, _r in buys)

    # Everything still reserved is cancelled at once: all comes back, to the unit.
    remaining = list(Checkout.objects.filter(
        status=CheckoutStatus.PENDING_PAYMENT, orders__lines__sku=flash_sku).distinct())
    assert all(ok for ok, _r in run_concurrently([lambda c=c: expire(c) for c in remaining]))
    assert_books_balance()
    assert (sale.sold, stock_of(flash_sku), stock_of(plain_sku)) == (0, flash_stock, plain_stock)
    assert not FlashSaleTake.objects.filter(flash_sale=sale, quantity__gt=0).exists()
    committed(lambda: CartItem.objects.filter(cart__user__in=first + newcomers).delete())

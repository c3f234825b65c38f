"""Settlement's invariants under random sequences of what shoppers, merchants, bank staff
and the scheduler do, through the real services, database and card server (hypothesis).

Each example runs inside a savepoint that is rolled back at its end, so examples never
see each other. After every step the books must hold: every ledger transaction sums to
zero; no escrow is negative; per merchant, what was captured is held, refunded (before
or after settlement), paid out / in transit / still owed, or repaid to lenders, to the
fen, and the ledger agrees with the orders, payments, refunds, settlement items and
payout lines it was made from; each bank's reconciliation is ok; no order is settled
twice; stock is never negative and is conserved. Financing is repaid first at settlement
through the repayment interface (a provider registered for this test).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts.services import user_register
from admission.models import Dossier
from admission.services import dossier_set_settlement_account
from core.errors import ApplicationError
from core.money import quantize_money
from orders import selectors as order_selectors
from orders import services as orders
from orders.models import (
    CheckoutStatus,
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundStatus,
)
from payments import interfaces, settlement
from payments import services as payments
from payments.models import (
    AccountKind,
    LedgerTransaction,
    Payment,
    PaymentStatus,
    PayoutLine,
    PayoutStatus,
    Posting,
    RunStatus,
    SettlementItem,
)
from tests import unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import DECLINED_CARD, GOOD_CARD, market, place, product_with_sku

pytestmark = pytest.mark.django_db

K = AccountKind
ZERO = Decimal("0.00")
STOCK = 40
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def _sum(qs, field="amount") -> Decimal:
    return qs.aggregate(t=Sum(field))["t"] or ZERO


def _set_account(merchant, number):
    with schema_context(merchant.bank.schema_name):
        dossier_set_settlement_account(dossier=Dossier.objects.get(merchant=merchant),
                                       actor=None, account_name=merchant.name,
                                       account_number=number)


LINES = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 6)), min_size=1, max_size=3)
PICKUP = st.frozensets(st.integers(0, 2))
FULFILLING = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.READY_FOR_PICKUP,
              OrderStatus.DELIVERED, OrderStatus.PICKED_UP)


class World:
    """What every example shares (made once per test, in the test's transaction): three
    merchants with one SKU each, two of them with a settlement account on file (the third,
    of bank A, has none until a step records it: its money stays payable meanwhile)."""

    def __init__(self, province):
        self.province = province
        shop = market(province, stock_a=STOCK, stock_b=STOCK)
        merchant_c, _ = approved_merchant(province.bank_a, province.a_manager,
                                          name=f"丙茶园{unique.tag()}")
        sku_c = product_with_sku(merchant_c, name="丙县绿茶", price="23.30", stock=STOCK)
        _set_account(shop.merchant_a, "6230000000000000111")
        _set_account(shop.merchant_b, "6231000000000000222")
        self.merchants = [shop.merchant_a, shop.merchant_b, merchant_c]
        self.merchant_c = merchant_c
        self.skus = [shop.sku_a, shop.sku_b, sku_c]
        self.buyer = user_register(username=f"prop-buyer-{unique.tag(8)}",
                                   password=province.password)
        self.first_txn = (LedgerTransaction.objects.order_by("-pk").values_list(
            "pk", flat=True).first() or 0)


class Settlement(RuleBasedStateMachine):
    world: World

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.checkouts: list[int] = []
        self.c_has_account = False
        # Orders financed by the merchant's bank: order id -> (principal, interest) that the
        # order's settlement repays first (what ``lending`` will register; see below).
        self.financed: dict[int, tuple[Decimal, Decimal]] = {}
        Settlement.current = self

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ---------------------------------------------------------------------------

    @property
    def p(self):
        return self.world.province

    def _my_orders(self):
        return Order.objects.filter(merchant__in=self.world.merchants)

    def _pick(self, qs, i):
        ids = list(qs.order_by("pk").values_list("pk", flat=True))
        return Order.objects.get(pk=ids[i % len(ids)]) if ids else None

    def _pending_checkout(self, i):
        from orders.models import Checkout

        ids = list(Checkout.objects.filter(pk__in=self.checkouts,
                                           status=CheckoutStatus.PENDING_PAYMENT)
                   .order_by("pk").values_list("pk", flat=True))
        return Checkout.objects.get(pk=ids[i % len(ids)]) if ids else None

    def _exists(self, *statuses):
        return self._my_orders().filter(status__in=statuses).exists()

    # --- shoppers --------------------------------------------------------------------------

    @initialize(purchases=st.lists(st.tuples(LINES, st.booleans(), PICKUP, st.booleans(),
                                             st.sampled_from([0, 40, 100])),
                                   min_size=1, max_size=3),
                settle_first=st.booleans())
    def trade(self, purchases, settle_first):
        """A few paid checkouts to start from, some financed, some orders already
        received, maybe settled already."""
        for lines, on_bank_b, pickup, complete, financed_share in purchases:
            self.place_checkout(lines, on_bank_b, pickup, pay_now=True)
            if financed_share:
                self.finance(0, financed_share)
            if complete:
                for i in range(3):
                    self.fulfil(i, via_tracking=False, to_the_end=True)
        if settle_first:
            self.settle("all")

    @rule(lines=LINES, on_bank_b=st.booleans(), pickup=PICKUP, pay_now=st.booleans())
    def place_checkout(self, lines, on_bank_b, pickup, pay_now):
        bank = self.p.bank_b if on_bank_b else self.p.bank_a
        wanted: dict[int, int] = {}
        for sku_index, qty in lines:
            wanted[sku_index] = wanted.get(sku_index, 0) + qty
        fulfilment = {}
        for sku_index in wanted:
            merchant = self.world.merchants[sku_index]
            if sku_index in pickup:
                branch = order_selectors.pickup_branches(merchant=merchant,
                                                         storefront_bank=bank).first()
                fulfilment[merchant.pk] = orders.FulfilmentChoice(Fulfilment.PICKUP,
                                                                  branch.pk)
        try:
            checkout = place(self.world.buyer, bank,
                             [(self.world.skus[i], q) for i, q in sorted(wanted.items())],
                             fulfilment=fulfilment)
        except ApplicationError as exc:
            if exc.code != "out_of_stock":
                raise
            return
        self.checkouts.append(checkout.pk)
        if pay_now:
            payment = payments.checkout_pay(checkout=checkout, buyer=self.world.buyer,
                                            card=GOOD_CARD, idempotency_key=uuid.uuid4().hex)
            assert payment.status == PaymentStatus.SUCCEEDED

    @precondition(lambda self: self._exists(OrderStatus.PENDING_PAYMENT))
    @rule(i=st.integers(0, 20), declined=st.booleans())
    def pay(self, i, declined):
        checkout = self._pending_checkout(i)
        if checkout is None:
            return
        payment = payments.checkout_pay(checkout=checkout, buyer=self.world.buyer,
                                        card=DECLINED_CARD if declined else GOOD_CARD,
                                        idempotency_key=uuid.uuid4().hex)
        checkout.refresh_from_db()
        if declined:
            assert payment.status == PaymentStatus.FAILED
            assert checkout.status == CheckoutStatus.PENDING_PAYMENT
        else:
            assert payment.status == PaymentStatus.SUCCEEDED
            assert checkout.status == CheckoutStatus.PAID

    @precondition(lambda self: self._exists(OrderStatus.PENDING_PAYMENT))
    @rule(i=st.integers(0, 20), expire=st.booleans())
    def give_up(self, i, expire):
        checkout = self._pending_checkout(i)
        if checkout is None:
            return
        if expire:  # the reservation ran out: the scheduled expiry gives the stock back
            type(checkout).objects.filter(pk=checkout.pk).update(reserved_until=LONG_AGO)
            assert payments.expire_reservations(now=LONG_AGO) == 1
        else:
            payments.checkout_abandon(checkout=checkout, buyer=self.world.buyer)
        checkout.refresh_from_db()
        assert checkout.status == CheckoutStatus.CANCELLED

    # --- fulfilment ------------------------------------------------------------------------

    @precondition(lambda self: self._exists(*FULFILLING))
    @rule(i=st.integers(0, 30), via_tracking=st.booleans(), to_the_end=st.booleans())
    def fulfil(self, i, via_tracking, to_the_end):
        """One step of an order's fulfilment, or all of them up to receipt confirmed."""
        order = self._pick(self._my_orders().filter(status__in=FULFILLING), i)
        while order is not None:
            self._fulfil_step(order, via_tracking)
            order.refresh_from_db()
            if not to_the_end or order.status == OrderStatus.COMPLETED:
                break

    def _fulfil_step(self, order, via_tracking):
        staff = self.p.a_manager if order.merchant_bank_id == self.p.bank_a.pk \
            else self.p.b_manager
        if order.status == OrderStatus.PAID and order.fulfilment == Fulfilment.DELIVERY:
            orders.order_ship(order=order, actor=staff, carrier="顺丰速运",
                              tracking_number=f"SF{order.pk:010d}")
        elif order.status == OrderStatus.PAID:
            orders.order_ready_for_pickup(order=order, actor=staff)
        elif order.status == OrderStatus.SHIPPED and via_tracking:
            orders.order_track(order=order, actor=staff, description="已签收", delivered=True)
        elif order.status == OrderStatus.READY_FOR_PICKUP:
            orders.pickup_verify(bank=order.pickup_branch.bank, code=order.pickup_code,
                                 actor=staff)
        else:
            orders.order_confirm_receipt(order=order, actor=self.world.buyer)

    @precondition(lambda self: self._exists(*orders.REFUNDABLE))
    @rule(i=st.integers(0, 30), share=st.integers(1, 100), approve=st.booleans())
    def refund(self, i, share, approve, order=None):
        order = order or self._pick(self._my_orders().filter(status__in=orders.REFUNDABLE), i)
        # share 100: all that is left; otherwise that percentage of it (at least a fen)
        amount = order.refundable if share == 100 else max(
            Decimal("0.01"), quantize_money(order.refundable * share / 100))
        settled = SettlementItem.objects.filter(order=order).exists()
        before = order.status
        refund = orders.refund_request(order=order, actor=self.world.buyer, amount=amount,
                                       reason="品质问题")
        staff = self.p.a_manager if order.merchant_bank_id == self.p.bank_a.pk \
            else self.p.b_manager
        orders.refund_decide(refund=refund, actor=staff, approve=approve,
                             note="" if approve else "商品无问题")
        order.refresh_from_db()
        refund.refresh_from_db()
        if not approve:
            assert order.status == before and refund.status == RefundStatus.REJECTED
            return
        assert refund.status == RefundStatus.SUCCEEDED
        full = order.refunded_total == order.total
        assert order.status == (OrderStatus.REFUNDED if full else before)
        kind = "clawback" if settled else "refund"
        booked = LedgerTransaction.objects.get(refund=refund)
        assert booked.kind == kind

    @precondition(lambda self: self._my_orders().filter(
        status=OrderStatus.COMPLETED).exclude(settlement=None).exists())
    @rule(i=st.integers(0, 30), share=st.integers(1, 100))
    def refund_after_settlement(self, i, share):
        """After-sales: a settled order refunded, clawed back from the merchant."""
        order = self._pick(self._my_orders().filter(status=OrderStatus.COMPLETED)
                           .exclude(settlement=None), i)
        self.refund(order.pk, share, approve=True, order=order)

    @precondition(lambda self: self._my_orders().filter(
        status__in=FULFILLING + (OrderStatus.COMPLETED,), settlement=None).exists())
    @rule(i=st.integers(0, 30), share=st.integers(10, 100))
    def finance(self, i, share):
        """The merchant's bank advances a share of a paid order, repaid at settlement."""
        order = self._pick(self._my_orders().filter(
            status__in=FULFILLING + (OrderStatus.COMPLETED,), settlement=None), i)
        principal = quantize_money(order.total * share / 100)
        self.financed[order.pk] = (principal, quantize_money(principal * Decimal("0.015")))

    # --- bank staff and the scheduler ------------------------------------------------------

    @precondition(lambda self: self._my_orders().filter(
        status=OrderStatus.COMPLETED, settlement=None).exists() or Posting.objects.filter(
        account__kind=K.MERCHANT_PAYABLE, account__merchant__in=self.world.merchants).exists())
    @rule(scope=st.sampled_from(["all", "a", "b"]))
    def settle(self, scope):
        bank = {"all": None, "a": self.p.bank_a, "b": self.p.bank_b}[scope]
        run = settlement.settlement_run_start(bank=bank, cutoff=timezone.now())
        run = settlement.settlement_run_execute(run.pk)
        assert run.status == RunStatus.COMPLETED
        assert all(r["ok"] for r in run.reconciliation.values()), run.reconciliation
        # Everything completed before the cut-off (in scope) is settled now.
        left = self._my_orders().filter(status=OrderStatus.COMPLETED,
                                        completed_at__lte=run.cutoff, settlement=None)
        if bank is not None:
            left = left.filter(merchant_bank=bank)
        assert not left.exists()
        # Every merchant with an account and money owed was paid in this run.
        for batch in run.batches.all():
            owed = settlement.payable_balances(bank=batch.bank)
            for merchant in self.world.merchants:
                has_account = merchant != self.world.merchant_c or self.c_has_account
                if merchant.bank_id == batch.bank_id and has_account:
                    assert owed.get(merchant.pk, ZERO) <= 0

    @precondition(lambda self: PayoutLine.objects.filter(
        status=PayoutStatus.SENT, merchant__in=self.world.merchants).exists())
    @rule(i=st.integers(0, 10), ok=st.booleans())
    def payout_result(self, i, ok):
        lines = list(PayoutLine.objects.filter(status=PayoutStatus.SENT,
                                               merchant__in=self.world.merchants)
                     .order_by("pk"))
        line = lines[i % len(lines)]
        if ok:
            settlement.payout_line_confirm(line=line)
        else:
            settlement.payout_line_fail(line=line, reason="账户冻结")
        with pytest.raises(ApplicationError):
            settlement.payout_line_confirm(line=line)

    @precondition(lambda self: not self.c_has_account)
    @rule()
    def record_missing_account(self):
        _set_account(self.world.merchant_c, "6230000000000000333")
        self.c_has_account = True

    @precondition(lambda self: self._my_orders().exists())
    @rule(i=st.integers(0, 30))
    def bad_refund_changes_nothing(self, i):
        order = self._pick(self._my_orders(), i)
        if order is None:
            return
        count = Refund.objects.filter(order=order).count()
        with pytest.raises((ValidationError, ApplicationError)):
            orders.refund_request(order=order, actor=self.world.buyer,
                                  amount=order.refundable + Decimal("0.01"), reason="多退")
        assert Refund.objects.filter(order=order).count() == count

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def every_transaction_sums_to_zero(self):
        unbalanced = (Posting.objects.filter(transaction__pk__gt=self.world.first_txn)
                      .values("transaction").annotate(total=Sum("amount"))
                      .exclude(total=0))
        assert not unbalanced.exists(), list(unbalanced)

    @invariant()
    def no_escrow_is_negative(self):
        negative = (Posting.objects.filter(account__kind=K.ESCROW).values("account")
                    .annotate(total=Sum("amount")).filter(total__gt=0))
        assert not negative.exists(), list(negative)

    @invariant()
    def each_bank_reconciles(self):
        for bank in (self.p.bank_a, self.p.bank_b):
            report = settlement.reconciliation(bank=bank)
            assert report["ok"], report

    @invariant()
    def each_merchant_accounts_for_every_fen(self):
        rate = settlement.referral_fee_rate()
        for merchant in self.world.merchants:
            mine = Posting.objects.filter(account__merchant=merchant)
            escrow = mine.filter(account__kind=K.ESCROW)
            payable = mine.filter(account__kind=K.MERCHANT_PAYABLE)
            captured = -_sum(escrow.filter(transaction__kind="capture"))
            refunded = _sum(escrow.filter(transaction__kind="refund"))
            released = _sum(escrow.filter(transaction__kind="settle"))
            held = -_sum(escrow)
            credited = -_sum(payable.filter(transaction__kind="settle"))
            clawed_back = _sum(payable.filter(transaction__kind="clawback"))
            owed = -_sum(payable)
            orders_m = self._my_orders().filter(merchant=merchant)
            items = SettlementItem.objects.filter(merchant=merchant)
            repaid = _sum(items, "repaid")
            assert repaid == -_sum(Posting.objects.filter(
                order__merchant=merchant, transaction__kind="settle",
                account__kind__in=[K.LOAN_PRINCIPAL, K.LOAN_INTEREST]))
            lines = PayoutLine.objects.filter(merchant=merchant)
            paid = _sum(lines.filter(status=PayoutStatus.CONFIRMED))
            in_transit = _sum(lines.filter(status=PayoutStatus.SENT))

            # The ledger's own equations.
            assert captured - refunded == released + held
            assert released == credited + repaid
            assert credited - clawed_back == paid + in_transit + owed
            assert captured == held + refunded + clawed_back + paid + in_transit + owed + repaid
            # ... and the ledger agrees with the records it was made from.
            paid_orders = orders_m.exclude(paid_at=None)
            assert captured == _sum(paid_orders, "total")
            assert held == _sum(paid_orders.filter(settlement=None), "total") - _sum(
                paid_orders.filter(settlement=None), "refunded_total")
            assert released == _sum(items, "released")
            assert credited == _sum(items, "merchant_credit")
            succeeded = Refund.objects.filter(order__merchant=merchant,
                                              status=RefundStatus.SUCCEEDED)
            assert refunded + clawed_back == _sum(succeeded)
            assert _sum(paid_orders, "refunded_total") == _sum(succeeded)
            for item in items.select_related("order"):
                principal, interest = self.financed.get(item.order_id, (ZERO, ZERO))
                assert item.repaid == min(principal + interest, item.released)
                expected = (quantize_money(item.released * rate)
                            if item.order.is_cross_bank else ZERO)
                assert item.referral_fee == expected
                assert _sum(Posting.objects.filter(
                    order=item.order, transaction__kind="referral_fee",
                    account__kind=K.REFERRAL_FEE_PAYABLE)) == -expected

    @invariant()
    def the_card_gateway_agrees(self):
        buyer = self.world.buyer
        charged = Payment.objects.filter(checkout__buyer=buyer,
                                         status=PaymentStatus.SUCCEEDED)
        captured = -_sum(Posting.objects.filter(account__kind=K.ESCROW,
                                                transaction__kind="capture",
                                                order__buyer=buyer))
        assert captured * 100 == (charged.aggregate(t=Sum("amount_fen"))["t"] or 0)
        # Nothing was returned automatically (no payment reached a cancelled checkout).
        assert not Payment.objects.filter(checkout__buyer=buyer,
                                          status=PaymentStatus.RETURNED).exists()

    @invariant()
    def each_order_is_settled_once_and_entirely(self):
        settled = set(SettlementItem.objects.filter(merchant__in=self.world.merchants)
                      .values_list("order_id", flat=True))
        settle_refs = list(LedgerTransaction.objects.filter(
            kind="settle", postings__order__merchant__in=self.world.merchants)
            .values_list("reference", flat=True).distinct())
        assert len(settle_refs) == len(set(settle_refs))
        assert {int(r.split(":")[1]) for r in settle_refs} == settled
        assert not SettlementItem.objects.filter(merchant__in=self.world.merchants).exclude(
            order__status__in=[OrderStatus.COMPLETED, OrderStatus.REFUND_REQUESTED,
                               OrderStatus.REFUNDED]).exists()

    @invariant()
    def stock_is_never_negative_and_is_conserved(self):
        for sku in self.world.skus:
            sku.refresh_from_db()
            held = OrderLine.objects.filter(sku=sku).exclude(
                order__checkout__status=CheckoutStatus.CANCELLED).aggregate(
                t=Sum("quantity"))["t"] or 0
            assert sku.stock >= 0
            assert sku.stock == STOCK - held


def _repayments(order, available):
    """A stand-in for the repayment provider ``lending`` registers: the financing of the
    current example's orders, principal first, never more than what is available."""
    principal, interest = Settlement.current.financed.get(order.pk, (ZERO, ZERO))
    principal = min(principal, available)
    interest = min(interest, available - principal)
    if principal + interest <= 0:
        return []
    return [interfaces.Repayment(lender_bank_id=order.merchant_bank_id, principal=principal,
                                 interest=interest, reference=f"loan-of-{order.number}")]


def test_settlement_keeps_its_invariants(province):
    Settlement.world = World(province)
    interfaces.register_repayment_provider(_repayments)
    try:
        run_state_machine_as_test(Settlement, settings=settings(
            max_examples=15, stateful_step_count=10, deadline=None, database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.filter_too_much]))
    finally:
        interfaces._providers.remove(_repayments)


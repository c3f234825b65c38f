"""The points mall's cash part on the card contract, through the real services, database
and local card server: the attempt is committed before the gateway is called, a lost
answer stays open until reconciliation books it exactly once, two payments at the same
moment charge once, and a declined card leaves the redemption payable."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import stripe
from django.db import connection, transaction
from django_tenants.utils import schema_context

from core.errors import ApplicationError
from payments.gateway import stripe_client
from payments.models import Posting
from payments.services import Card
from payments.services import charges as payment_charges
from rewards import services as rewards
from rewards.models import MallOffer, Redemption, RedemptionStatus
from rewards.services import ledger as points_ledger
from tests.lending_factories import buyer
from tests.rewards_factories import grant, offer

pytestmark = pytest.mark.django_db

GOOD = Card("4242424242424242", 12, 2034, "123")
DECLINED = Card("4000000000000341", 12, 2034, "123")


def _redeem(province, user, *, merchant_id=1, sku_id=1) -> Redemption:
    bank = province.bank_a
    grant(bank, user, 500)
    plus_cash = offer(bank, _Ids(merchant_id), _Ids(sku_id), title="加钱购测试",
                      cash_price=Decimal("12.30"))
    with schema_context(bank.schema_name):
        made = rewards.offer_redeem(bank=bank, offer=plus_cash, user=user, quantity=1,
                                    branch=province.a_branch)
        # Not listed in the mall for other tests (its merchant and SKU are made up).
        MallOffer.objects.filter(pk=plus_cash.pk).update(is_active=False)
    return made


class _Ids:
    def __init__(self, pk):
        self.pk = pk


def _charges(bank, redemption) -> list:
    """The gateway's succeeded charges for this redemption."""
    return [i for i in stripe_client().v1.payment_intents.list(
        params={"limit": 100}).auto_paging_iter()
        if (i.to_dict().get("metadata") or {}).get("redemption") == str(redemption.pk)
        and (i.to_dict().get("metadata") or {}).get("bank") == bank.code
        and i.status == "succeeded"]


def _booked(bank, redemption):
    return Posting.objects.filter(transaction__kind="mall_cash",
                                  transaction__reference=f"{bank.pk}:{redemption.pk}")


class _Gateway:
    """The real client; ``payment_intents.create`` can lose its answer (the charge went
    through, the connection broke) or hold the first caller at the gateway."""

    def __init__(self, *, lose_answer=False, hold=None):
        self._client, self.lose_answer, self.hold = stripe_client(), lose_answer, hold

    def __getattr__(self, name):
        return getattr(self._client, name)

    @property
    def v1(self):
        outer = self

        class Intents:
            def __getattr__(self, name):
                return getattr(outer._client.v1.payment_intents, name)

            def create(self, *args, **kwargs):
                if outer.hold is not None:
                    outer.hold()
                made = outer._client.v1.payment_intents.create(*args, **kwargs)
                if outer.lose_answer:
                    raise stripe.APIConnectionError("connection reset by peer")
                return made

        class V1:
            payment_intents = Intents()

            def __getattr__(self, name):
                return getattr(outer._client.v1, name)
        return V1()


class _Down:
    """A gateway that does not answer at all."""

    @property
    def v1(self):
        raise stripe.APIConnectionError("gateway down")


def test_a_lost_answer_stays_open_and_reconciliation_books_it_exactly_once(province,
                                                                          monkeypatch):
    bank, user = province.bank_a, buyer()
    made = _redeem(province, user)
    monkeypatch.setattr(payment_charges, "stripe_client", lambda: _Gateway(lose_answer=True))
    with schema_context(bank.schema_name):
        with pytest.raises(ApplicationError) as lost:
            rewards.redemption_pay_cash(bank=bank, redemption=made, user=user, card=GOOD,
                                        idempotency_key="lost-1")
        # Not a decline: the card may have been charged, and it was.
        assert lost.value.code == "payment_unknown"
        made.refresh_from_db()
        assert made.status == RedemptionStatus.AWAITING_CASH
        assert made.payments.get().status == "pending"
        monkeypatch.undo()
        with pytest.raises(ApplicationError) as again:  # nobody pays twice meanwhile
            rewards.redemption_pay_cash(bank=bank, redemption=made, user=user, card=GOOD,
                                        idempotency_key="lost-2")
        assert (again.value.status_code, again.value.code) == (409, "payment_in_progress")
        with pytest.raises(ApplicationError):  # nor cancels it to get the points back
            rewards.redemption_cancel(bank=bank, redemption=made, actor=user)
        assert _booked(bank, made).count() == 0

        # The gateway still down: reconciliation leaves it open and carries on.
        monkeypatch.setattr(payment_charges, "stripe_client", lambda: _Down())
        assert rewards.redemption_payments_reconcile(bank=bank, older_than_seconds=0) == 0
        assert made.payments.get().status == "pending"
        monkeypatch.undo()
        assert rewards.redemption_payments_reconcile(bank=bank, older_than_seconds=0) == 1
        assert rewards.redemption_payments_reconcile(bank=bank, older_than_seconds=0) == 0
        made.refresh_from_db()
        assert made.status == RedemptionStatus.READY and made.payment_reference
        booked = _booked(bank, made)
        assert sorted(p.amount for p in booked) == [Decimal("-12.30"), Decimal("12.30")]
        assert made.payments.get().status == "succeeded"
    assert len(_charges(bank, made)) == 1


def test_a_declined_card_leaves_it_payable(province):
    bank, user = province.bank_a, buyer()
    made = _redeem(province, user)
    with schema_context(bank.schema_name):
        with pytest.raises(ApplicationError) as declined:
            rewards.redemption_pay_cash(bank=bank, redemption=made, user=user,
                                        card=DECLINED, idempotency_key="d-1")
        assert declined.value.code == "card_declined"
        made.refresh_from_db()
        assert made.status == RedemptionStatus.AWAITING_CASH and not made.payment_reference
        assert _booked(bank, made).count() == 0
        paid = rewards.redemption_pay_cash(bank=bank, redemption=made, user=user, card=GOOD,
                                           idempotency_key="d-2")
        assert paid.status == RedemptionStatus.READY
        assert [p.status for p in made.payments.order_by("attempt")] == ["failed", "succeeded"]
        assert _booked(bank, made).count() == 2
    assert len(_charges(bank, made)) == 1


def _in_session(fn):
    """Run ``fn`` in a thread with its own database session (committed when it returns)."""
    out: dict = {}

    def run():
        try:
            out["result"] = fn()
        except Exception as exc:  # noqa: BLE001 - asserted on by the caller
            out["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_two_payments_at_the_same_moment_charge_once(province, monkeypatch):
    """The page submitted twice (two requests, each with its own key and database
    session): the first is held at the gateway while the second runs."""
    bank = province.bank_a
    setup, made = _in_session(lambda: (lambda u: (u, _redeem(province, u)))(buyer()))
    setup.join(60)
    user, redemption = made["result"]

    at_gateway, second_done = threading.Event(), threading.Event()
    calls = []

    def hold():
        calls.append(1)
        if len(calls) == 1:  # the first request waits until the second has finished
            at_gateway.set()
            second_done.wait(30)

    monkeypatch.setattr(payment_charges, "stripe_client", lambda: _Gateway(hold=hold))

    def pay(key):
        def job():
            with schema_context(bank.schema_name):
                return rewards.redemption_pay_cash(bank=bank, redemption=redemption,
                                                   user=user, card=GOOD, idempotency_key=key)
        return job

    first, first_out = _in_session(pay("page-render-1"))
    assert at_gateway.wait(30)
    second, second_out = _in_session(pay("page-render-2"))
    second.join(60)
    second_done.set()
    first.join(60)
    assert not first.is_alive() and not second.is_alive()

    assert len(_charges(bank, redemption)) == 1
    assert first_out.get("result") is not None, first_out
    assert first_out["result"].status == RedemptionStatus.READY
    error = second_out.get("error")
    assert isinstance(error, ApplicationError) and error.status_code == 409, second_out
    assert error.code == "payment_in_progress"
    with schema_context(bank.schema_name):
        assert _booked(bank, redemption).count() == 2
        assert Redemption.objects.get(pk=redemption.pk).status == RedemptionStatus.READY

    def clean_up():  # no live points left behind for tests that expire a bank's lots
        with schema_context(bank.schema_name), transaction.atomic():
            left = rewards.balance(user_id=user.pk)
            if left > 0:
                points_ledger._spend(user_id=user.pk, points=left, reference=f"test-end:{user.pk}",
                                     note="test clean-up")
    done, _out = _in_session(clean_up)
    done.join(60)

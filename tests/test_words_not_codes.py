"""Pages show words, not codes: a credit officer reads a score's factors (the time on the
platform in days, a business buyer as such, the last inspection's verdict as the form
names it); a merchant's statement names every movement (an order-financing advance is not
"loan_disburse")."""

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import translation

from lending import scoring
from lending.models import LendingPolicy, PartyKind
from payments.selectors import statement_rows

BUYER = {"tenure_days": 360, "sales_3m": "3000", "sales_prev_3m": "3000",
         "sales_6m": "6000", "sales_12m": "12000", "gross_12m": "12000",
         "refunded_12m": "0", "orders_12m": 30, "completed_12m": 30, "failed_12m": 0,
         "disputed_12m": 0, "business": True, "loans_closed": 0, "loans_closed_on_time": 0,
         "loans_overdue_now": 0, "written_off": 0, "loans_counted": 0,
         "repaid_on_time_pd": "0", "repaid_late_pd": "0"}
MERCHANT = {**BUYER, "business": False, "shipped_on_time": 20, "ship_due": 25,
            "traced": 3, "listed": 4, "inspection": "conditional"}


def values(party, fig) -> dict[str, str]:
    card = scoring.scorecard(party, fig, LendingPolicy())
    return {f["factor"]: f["value"] for f in card.factors}


@pytest.mark.parametrize(("language", "tenure", "business", "inspection"), [
    ("zh-hans", "360 天", "企业买家", "有条件通过"),
    ("en", "360 days", "Business buyer", "Pass with conditions"),
])
def test_factor_values_are_words_in_the_readers_language(language, tenure, business,
                                                         inspection):
    with translation.override(language):
        buyer = values(PartyKind.BUYER, BUYER)
        merchant = values(PartyKind.MERCHANT, MERCHANT)
    assert buyer["tenure"] == tenure and buyer["business"] == business
    assert merchant["inspection"] == inspection


def test_every_statement_movement_has_a_name():
    def posting(kind, amount):
        return SimpleNamespace(posted_at=datetime(2026, 12, 4, tzinfo=UTC), order=None,
                               amount=Decimal(amount),
                               transaction=SimpleNamespace(kind=kind, memo="advance on X"))

    with translation.override("zh-hans"):
        rows = statement_rows([posting("loan_disburse", "-800.00"),
                               posting("settle", "-1000.00"), posting("bench", "1.00")])
        labels = [str(r["label"]) for r in rows]
    assert labels == ["其他款项", "订单结算", "订单融资放款"]

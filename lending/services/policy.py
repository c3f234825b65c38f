"""The bank's lending parameters: read, seeded at onboarding, changed within bounds."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from banks.models import Bank
from lending import scoring
from lending.models import LendingPolicy, PartyKind
from lending.services._common import _event, _in_bank


def policy_get() -> LendingPolicy:
    policy = LendingPolicy.objects.order_by("pk").first()
    return policy or LendingPolicy.objects.create()


def policy_seed_for_bank(sender, *, bank, **kwargs) -> LendingPolicy:
    """Seed the bank's lending policy; called in the bank's schema at onboarding."""
    _in_bank(bank)
    return policy_get()


POLICY_FIELDS = {"base_score", "weights", "tier_a_min", "tier_b_min", "tier_c_min",
                 "rate_a", "rate_b", "rate_c", "penalty_multiplier", "merchant_limit_months",
                 "buyer_limit_months", "merchant_limit_cap", "buyer_limit_cap",
                 "advance_ratio", "order_financing_days", "purchase_financing_days",
                 "instalment_months", "auto_tiers", "second_approval_over",
                 "pledge_ltv", "pledge_margin_ratio", "pledge_months"}


# Every parameter's range: wide enough for any real bank, narrow enough that no value
# turns the products into nonsense (a 0-day term, a free loan, a limit beyond the columns).
POLICY_BOUNDS = {
    "base_score": (0, 1000),
    "tier_a_min": (1, 1000), "tier_b_min": (1, 1000), "tier_c_min": (1, 1000),
    "rate_a": (Decimal("0.0001"), Decimal("0.2400")),
    "rate_b": (Decimal("0.0001"), Decimal("0.2400")),
    "rate_c": (Decimal("0.0001"), Decimal("0.2400")),
    "penalty_multiplier": (Decimal("1.00"), Decimal("3.00")),
    "merchant_limit_months": (Decimal("0.00"), Decimal("24.00")),
    "buyer_limit_months": (Decimal("0.00"), Decimal("24.00")),
    "merchant_limit_cap": (Decimal("0.00"), Decimal("10000000.00")),
    "buyer_limit_cap": (Decimal("0.00"), Decimal("1000000.00")),
    "advance_ratio": (Decimal("0.10"), Decimal("1.00")),
    "order_financing_days": (7, 365),
    "purchase_financing_days": (7, 365),
    "second_approval_over": (Decimal("0.00"), Decimal("10000000.00")),
    "pledge_ltv": (Decimal("0.10"), Decimal("0.90")),
    "pledge_margin_ratio": (Decimal("0.10"), Decimal("1.00")),
    "pledge_months": (2, 36),
}
WEIGHT_MAX = 500
INSTALMENT_MONTHS = (2, 36)  # an "instalment" of one month is pay later
MAX_TERMS = 6


def _policy_errors(policy: LendingPolicy, changes: dict) -> dict[str, list[str]]:
    """Every parameter within its bounds, and the parameters consistent with each other."""
    errors: dict[str, list[str]] = {}

    def add(field, message):
        errors.setdefault(field, []).append(message)

    for field, (low, high) in POLICY_BOUNDS.items():
        value = getattr(policy, field)
        if value is None or isinstance(value, bool) or not low <= value <= high:
            add(field, _("Enter a value from %(low)s to %(high)s.") % {"low": low, "high": high})
    if not errors.keys() & {"tier_a_min", "tier_b_min", "tier_c_min"} and not (
            policy.tier_a_min > policy.tier_b_min > policy.tier_c_min):
        add("tier_a_min", _("Tier thresholds must fall from A to C."))
    if not errors.keys() & {"rate_a", "rate_b", "rate_c"} and not (
            policy.rate_a <= policy.rate_b <= policy.rate_c):
        add("rate_a", _("A better tier cannot pay a higher rate: rates must rise from A to C."))
    if not errors.keys() & {"pledge_ltv", "pledge_margin_ratio"} and not (
            policy.pledge_ltv < policy.pledge_margin_ratio):
        add("pledge_margin_ratio", _("The maintenance ratio must be above the loan-to-value "
                                     "ratio, or every new pledge loan is called at once."))
    tiers = policy.auto_tiers
    if not isinstance(tiers, str) or set(tiers) - {"A", "B", "C"} or len(set(tiers)) != len(
            tiers):
        add("auto_tiers", _("Use the letters A, B and C, each at most once."))
    terms = policy.instalment_months
    low, high = INSTALMENT_MONTHS
    if not isinstance(terms, list) or not terms or len(terms) > MAX_TERMS or any(
            isinstance(m, bool) or not isinstance(m, int) or not low <= m <= high
            for m in terms) or len(set(terms)) != len(terms):
        add("instalment_months", _("List 1 to %(n)s different terms of %(low)s to %(high)s "
                                   "months.") % {"n": MAX_TERMS, "low": low, "high": high})
    weights = policy.weights
    known = {name for party in (PartyKind.MERCHANT, PartyKind.BUYER)
             for name, _default, _label in scoring.factor_table(party)}
    if not isinstance(weights, dict) or any(
            isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= WEIGHT_MAX
            for w in weights.values()):
        add("weights", _("Weights are whole numbers from 0 to %(n)s.") % {"n": WEIGHT_MAX})
    elif set(weights) - known:
        add("weights", _("Unknown factor: %(names)s. The factors are: %(known)s.") % {
            "names": ", ".join(sorted(repr(k) for k in set(weights) - known)),
            "known": ", ".join(sorted(known))})
    elif "weights" in changes and not weights:
        add("weights", _("Give at least one factor's weight."))
    else:
        for party in (PartyKind.MERCHANT, PartyKind.BUYER):
            most = sum(int(weights.get(name, default))
                       for name, default, _label in scoring.factor_table(party))
            if most == 0:
                add("weights", _("At least one factor must count (a weight above 0)."))
                break
            if "tier_a_min" not in errors and policy.base_score + most < policy.tier_a_min:
                add("tier_a_min", _("No %(party)s could reach tier A: the best score is "
                                    "%(best)s.") % {"party": PartyKind(party).label,
                                                    "best": policy.base_score + most})
                break
    return errors


@transaction.atomic
def policy_update(*, bank: Bank, actor, **changes) -> LendingPolicy:
    """Change the bank's parameters (bank admins). Takes effect at the next scoring.
    Every value is bounded and the values must agree (tiers fall from A to C, rates rise,
    a tier A score can be reached); the page and the API both refuse otherwise."""
    _in_bank(bank)
    unknown = set(changes) - POLICY_FIELDS
    if unknown:
        raise ValidationError({f: [_("Unknown parameter.")] for f in unknown})
    policy = LendingPolicy.objects.select_for_update().get(pk=policy_get().pk)
    for field, value in changes.items():
        setattr(policy, field, value)
    errors = _policy_errors(policy, changes)
    if not errors:
        try:
            policy.full_clean()
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    policy.instalment_months = sorted(policy.instalment_months)
    policy.save()
    _event(action="policy_update", actor_id=actor.pk,
           detail={k: str(v) for k, v in changes.items()})
    return policy

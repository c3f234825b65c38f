"""The bank's programme: seeding it at onboarding, reading it, and the console's
settings (rates and rules, earning rules).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from banks.models import Bank
from banks.services import bank_audit, changed_fields
from catalog.models import Category
from rewards.models import EarningRule, PointsProgramme, PointsProgrammeRules
from rewards.services._common import _bounded, _in_bank, _window_ok


def programme_seed_for_bank(sender, *, bank, **kwargs) -> PointsProgramme:
    """Seed the bank's points programme; called in the bank's schema at onboarding."""
    assert connection.schema_name == bank.schema_name, "must run in the bank's schema"
    programme = PointsProgramme.objects.first()
    if programme is None:
        programme = PointsProgramme.objects.create(
            name=f"{bank.display_name}积分")
    PointsProgrammeRules.objects.get_or_create(programme=programme)
    return programme


def programme_of(bank: Bank) -> tuple[PointsProgramme, PointsProgrammeRules]:
    _in_bank(bank)
    programme = programme_seed_for_bank(None, bank=bank)
    return programme, programme.rules


PROGRAMME_FIELDS = ("name", "points_per_yuan", "yuan_per_point")
RULES_FIELDS = ("expiry_months", "sharer_points_per_yuan", "max_order_share")


@transaction.atomic
def programme_update(*, bank: Bank, actor, **changes) -> PointsProgramme:
    """Bank admins set the rates and rules; bounded so that no value makes points free
    money (a point worth at most 1 yuan, at most the whole goods paid by points)."""
    _in_bank(bank)
    programme, rules = programme_of(bank)
    unknown = set(changes) - set(PROGRAMME_FIELDS) - set(RULES_FIELDS)
    if unknown:
        raise ValidationError({k: [_("Unknown setting.")] for k in sorted(unknown)})
    errors: dict = {}
    bounds = {"points_per_yuan": (Decimal("0"), Decimal("100")),
              "yuan_per_point": (Decimal("0"), Decimal("1")),
              "expiry_months": (1, 120),
              "sharer_points_per_yuan": (Decimal("0"), Decimal("100")),
              "max_order_share": (Decimal("0"), Decimal("1"))}
    for field, value in changes.items():
        if field == "name":
            if not (value or "").strip():
                errors["name"] = [_("This field is required.")]
            continue
        _bounded(errors, field, value, *bounds[field])
    if errors:
        raise ValidationError(errors)
    values = {field: value.strip() if field == "name" else value
              for field, value in changes.items()}
    changed = {**changed_fields(programme, {f: v for f, v in values.items()
                                            if f in PROGRAMME_FIELDS}),
               **changed_fields(rules, {f: v for f, v in values.items() if f in RULES_FIELDS})}
    for field, value in values.items():
        setattr(programme if field in PROGRAMME_FIELDS else rules, field, value)
    programme.save()
    rules.save()
    if changed:
        bank_audit(bank=bank, actor=actor, action="points_programme_changed",
                   target=programme, changes=changed)
    return programme


@transaction.atomic
def earning_rule_save(*, bank: Bank, actor, rule: EarningRule | None = None,
                      **fields) -> EarningRule:
    """Create or change a category bonus or campaign (a multiplier from 1 to 10)."""
    _in_bank(bank)
    rule = rule or EarningRule()
    created = rule.pk is None
    changed = changed_fields(rule, fields)
    for field, value in fields.items():
        setattr(rule, field, value)
    errors: dict = {}
    if not (rule.name or "").strip():
        errors["name"] = [_("This field is required.")]
    _bounded(errors, "multiplier", rule.multiplier, Decimal("1"), Decimal("10"))
    if rule.category_id is not None and not Category.objects.filter(
            pk=rule.category_id).exists():
        errors["category_id"] = [_("No such category.")]
    _window_ok(errors, rule.starts_at, rule.ends_at)
    if errors:
        raise ValidationError(errors)
    rule.save()
    bank_audit(bank=bank, actor=actor, target=rule, changes=changed,
               action="earning_rule_created" if created else "earning_rule_changed")
    return rule

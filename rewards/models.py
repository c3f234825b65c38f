from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class PointsProgramme(models.Model):
    """The bank's points programme: one row in each bank's schema, seeded at onboarding.

    Its parameters are the bank's own business and live in the bank's schema.
    """

    name = models.CharField(_("name"), max_length=60)
    points_per_yuan = models.DecimalField(
        _("points earned per yuan spent"), max_digits=6, decimal_places=2,
        default=Decimal("1.00"), validators=[MinValueValidator(Decimal("0"))])
    yuan_per_point = models.DecimalField(
        _("yuan a point is worth at checkout"), max_digits=6, decimal_places=4,
        default=Decimal("0.0100"), validators=[MinValueValidator(Decimal("0"))])
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

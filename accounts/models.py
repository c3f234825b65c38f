from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.validators import validate_cn_mobile


class BuyerKind(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    BUSINESS = "business", _("Business buyer")


class User(AbstractUser):
    """One account per person, valid on every bank's storefront and the portal.

    Roles: ``is_federation_admin`` marks the federation's administrators; bank staff roles
    are ``banks.StaffMembership`` rows; every account can shop.
    """

    phone = models.CharField(_("mobile number"), max_length=11, blank=True, default="",
                             validators=[validate_cn_mobile])
    display_name = models.CharField(_("display name"), max_length=60, blank=True, default="")
    is_federation_admin = models.BooleanField(_("federation admin"), default=False)
    # Business buyers (shops, canteens, processors) get the wholesale tier prices.
    buyer_kind = models.CharField(_("buyer kind"), max_length=12, choices=BuyerKind.choices,
                                  default=BuyerKind.INDIVIDUAL)
    business_name = models.CharField(_("business name"), max_length=100, blank=True,
                                     default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["phone"], condition=~Q(phone=""),
                                    name="accounts_user_phone_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_business_buyer(self) -> bool:
        return self.buyer_kind == BuyerKind.BUSINESS

    @property
    def shown_name(self) -> str:
        return self.display_name or self.username

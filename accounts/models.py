from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.validators import validate_cn_mobile


class BuyerKind(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    BUSINESS = "business", _("Business buyer")


class Segment(models.TextChoices):
    """The customer groups the platform serves (for the banks' segment reports)."""

    VILLAGER = "villager", _("Villager")
    SMALL_BUSINESS = "small_business", _("Small business owner")
    COMMUNITY = "community", _("Community resident")
    ENTERPRISE = "enterprise", _("Leading enterprise")
    YOUNG = "young", _("Young customer")


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
    segment = models.CharField(_("customer group"), max_length=16, choices=Segment.choices,
                               blank=True, default="")
    # The language the person last chose on a page (or registered in); their texts and
    # inbox messages are written in it. Blank: the platform's (Simplified Chinese).
    language = models.CharField(_("language"), max_length=10, blank=True, default="")

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


class ConsentPurpose(models.TextChoices):
    # Recording what the person does on the platform (visits, views, searches) under
    # their account rather than only an anonymous session.
    BEHAVIOUR = "behaviour", _("Record my browsing and purchases under my account")
    # A bank using the person's platform data (sales, purchases, repayments) to score
    # credit and set limits.
    CREDIT = "credit", _("Let this bank use my platform data to assess my credit")
    # The privacy notice read and agreed to when the account was made.
    PRIVACY_NOTICE = "privacy_notice", _("Agreed to the privacy notice")


class Consent(models.Model):
    """A person's recorded consent for one purpose, given to one bank (credit) or to the
    platform (``bank`` empty). Withdrawing keeps the row (the record of what was agreed
    and when); a new grant is a new row."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents")
    bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+")
    purpose = models.CharField(max_length=20, choices=ConsentPurpose.choices)
    granted_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Where and how it was given (page, API, branch desk), for the record.
    source = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "bank", "purpose"],
                                    condition=Q(withdrawn_at__isnull=True),
                                    nulls_distinct=False,
                                    name="accounts_one_live_consent"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.purpose}@{self.bank_id or 'platform'}"


class Division(models.Model):
    """China's administrative divisions down to the township (乡镇/街道), from the
    statistical division codes shipped in ``accounts/data/divisions.csv.gz``: province
    (2-digit code), city (4), county (6), township (9)."""

    class Level(models.IntegerChoices):
        PROVINCE = 1, _("province")
        CITY = 2, _("city")
        COUNTY = 3, _("county")
        TOWNSHIP = 4, _("township")

    code = models.CharField(max_length=12, primary_key=True)
    name = models.CharField(max_length=60)
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="children")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Address(models.Model):
    """An entry in a shopper's address book. An order copies the address it was sent to,
    so editing or deleting an entry never changes an order."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    recipient_name = models.CharField(_("recipient"), max_length=40)
    recipient_phone = models.CharField(_("mobile number"), max_length=11,
                                       validators=[validate_cn_mobile])
    # The township (or a county without townships) the address lies in.
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    detail = models.CharField(_("village, street and number"), max_length=120)
    is_default = models.BooleanField(_("default address"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(is_default=True),
                                    name="accounts_one_default_address"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_name} {self.detail}"


class PasswordCode(models.Model):
    """A one-time code texted to a person's mobile number to set (or reset) their password:
    customers a branch desk registered have none yet, and anyone may have forgotten theirs.
    Only a keyed hash of the code is kept; a code is used once, expires, and dies after a
    few wrong tries."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE,
                             related_name="password_codes")
    phone = models.CharField(max_length=11)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    wrong_tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone", "created_at"],
                                name="accounts_pwcode_phone_idx")]

    def __str__(self) -> str:
        return f"code for {self.user_id}"

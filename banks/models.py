from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import schema_exists

from banks.schema_template import clone_into

BANK_CODE_RE = r"^[a-z][a-z0-9-]{1,29}$"
HEX_COLOR = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f7a4d."))


class Bank(TenantMixin):
    """A member bank: a tenant with its own PostgreSQL schema and storefront domain(s).

    The federation itself is the public schema and has no row here.
    """

    code = models.SlugField(_("bank code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100, unique=True)
    short_name = models.CharField(_("short name"), max_length=30, blank=True, default="")
    region = models.CharField(_("region"), max_length=60, blank=True, default="")
    slogan = models.CharField(_("slogan"), max_length=120, blank=True, default="")
    brand_color = models.CharField(_("brand colour"), max_length=7, default="#1f7a4d",
                                   validators=[HEX_COLOR])
    is_active = models.BooleanField(_("active"), default=True)
    # Policy: a merchant's product goes live only after the bank's staff review it.
    requires_listing_review = models.BooleanField(_("products need review before listing"),
                                                  default=True)
    # Policy: its merchants' products sell only while their newest batch has a passing
    # lab report (checked at checkout).
    requires_passing_lab_report = models.BooleanField(
        _("products need a passing lab report to sell"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    # The schema is created (and migrated) when the row is first saved, inside the
    # onboarding transaction; a bank's schema is never dropped by deleting the row.
    auto_create_schema = True
    auto_drop_schema = False

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        """Copy the schema from the template when it is current (a fraction of a second);
        else migrate it from nothing, as django-tenants does."""
        if check_if_exists and schema_exists(self.schema_name):
            return False
        if sync_schema and clone_into(self.schema_name):
            return True
        return super().create_schema(check_if_exists=check_if_exists,
                                     sync_schema=sync_schema, verbosity=verbosity)

    class Meta:
        ordering = ["code"]
        verbose_name = _("bank")
        verbose_name_plural = _("banks")

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.short_name or self.name


class Domain(DomainMixin):
    """A host name on which a bank's storefront and console answer."""

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")


class Branch(models.Model):
    """A bank branch: a pickup point and assisted-ordering desk (O2O)."""

    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="branches")
    code = models.SlugField(_("branch code"), max_length=30)
    name = models.CharField(_("name"), max_length=100)
    county = models.CharField(_("county"), max_length=60)
    address = models.CharField(_("address"), max_length=200)
    phone = models.CharField(_("phone"), max_length=30, blank=True, default="")
    opening_hours = models.CharField(_("opening hours"), max_length=120, blank=True,
                                     default="")
    is_pickup_point = models.BooleanField(_("pickup point"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["bank_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["bank", "code"], name="banks_branch_code_unique"),
        ]
        verbose_name = _("branch")
        verbose_name_plural = _("branches")

    def __str__(self) -> str:
        return self.name


class StaffRole(models.TextChoices):
    BANK_ADMIN = "bank_admin", _("Bank admin")
    ACCOUNT_MANAGER = "account_manager", _("Account manager")
    CREDIT_OFFICER = "credit_officer", _("Credit officer")


class StaffMembership(models.Model):
    """A person working for one bank in one role. A person is staff of at most one bank."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="staff_membership")
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(_("role"), max_length=30, choices=StaffRole.choices)
    branch = models.ForeignKey(Branch, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="staff")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["bank_id", "role", "user_id"]
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.bank.code} ({self.role})"


class BankEvent(models.Model):
    """Audit trail of actions on banks: who did what, when."""

    # No bank: an event of the federation itself (its admins).
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="events", null=True,
                             blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    action = models.CharField(max_length=40)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.bank_id}"

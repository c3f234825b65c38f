"""A bank's merchant admission files: its secret, in the bank's own schema.

Rows here point at the shared ``catalog.Merchant`` (a tenant -> public foreign key, which
Citus maps to a reference table; see docs/operations.md). The merchant's public status
lives on ``catalog.Merchant``; every change of it is made by admission.services, which
writes a ``DossierEvent`` in the same transaction.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalog.models import MerchantStatus
from core.uploads import UploadField, file_meta_field
from core.validators import validate_uscc


class Dossier(models.Model):
    merchant = models.OneToOneField("catalog.Merchant", on_delete=models.PROTECT,
                                    related_name="+", db_constraint=True)
    uscc = models.CharField(_("unified social credit code"), max_length=18,
                            validators=[validate_uscc])
    legal_rep_name = models.CharField(_("legal representative"), max_length=60)
    legal_rep_id_masked = models.CharField(_("legal representative's ID (masked)"),
                                           max_length=24)
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    address = models.CharField(_("business address"), max_length=200)
    next_review_due = models.DateField(_("next re-review due"), null=True, blank=True)
    # The merchant's settlement account at this bank: payouts go there.
    settlement_account_name = models.CharField(_("settlement account name"), max_length=100,
                                               blank=True, default="")
    settlement_account_number = models.CharField(_("settlement account number"),
                                                 max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Dossier {self.merchant_id}"


class LicenceKind(models.TextChoices):
    BUSINESS = "business", _("Business licence")
    FOOD_PRODUCTION = "sc", _("Food production (SC) permit")
    FOOD_BUSINESS = "food_business", _("Food business permit")
    OTHER = "other", _("Other")


class Licence(models.Model):
    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="licences")
    kind = models.CharField(_("kind"), max_length=20, choices=LicenceKind.choices)
    number = models.CharField(_("number"), max_length=60)
    expires_on = models.DateField(_("expires on"))
    document = UploadField(_("scan"), upload_to="admission/licences/", blank=True,
                           policy="scan")
    file_meta = file_meta_field()

    class Meta:
        ordering = ["expires_on"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class DossierDocument(models.Model):
    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(_("title"), max_length=100)
    file = UploadField(_("file"), upload_to="admission/documents/", policy="scan")
    file_meta = file_meta_field()
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Verdict(models.TextChoices):
    PASS = "pass", _("Pass")
    CONDITIONAL = "conditional", _("Pass with conditions")
    FAIL = "fail", _("Fail")


class Inspection(models.Model):
    """The on-site inspection bank staff record."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="inspections")
    inspected_on = models.DateField(_("date"))
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    findings = models.TextField(_("findings"))
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict.choices)
    photo = UploadField(_("photo"), upload_to="admission/inspections/", blank=True,
                        policy="image")
    file_meta = file_meta_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-inspected_on", "-id"]

    def __str__(self) -> str:
        return f"{self.inspected_on} {self.verdict}"


class EventAction(models.TextChoices):
    APPLY = "apply", _("Applied")
    START_REVIEW = "start_review", _("Taken into review")
    INSPECT = "inspect", _("On-site inspection")
    APPROVE = "approve", _("Approved")
    REJECT = "reject", _("Rejected")
    SUSPEND = "suspend", _("Suspended")
    REINSTATE = "reinstate", _("Reinstated")
    REAPPLY = "reapply", _("Re-submitted")
    RENEW_LICENCE = "renew_licence", _("Licence renewed")
    SETTLEMENT_ACCOUNT = "settlement_account", _("Settlement account set")
    LICENCE_SCAN = "licence_scan", _("Licence scan uploaded")
    FILE_QUARANTINED = "file_quarantined", _("File set aside: upload it again")
    FEATURE = "feature", _("Featured on the storefront")
    UNFEATURE = "unfeature", _("No longer featured")
    APPROVE_LISTING = "approve_listing", _("Listing approved")
    REJECT_LISTING = "reject_listing", _("Listing rejected")
    DELIST = "delist", _("Product delisted")


class DossierEvent(models.Model):
    """Audit trail: who moved the merchant from which state to which, and why."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              related_name="+")
    action = models.CharField(max_length=30, choices=EventAction.choices)
    from_status = models.CharField(max_length=20, blank=True, default="",
                                   choices=MerchantStatus.choices)
    to_status = models.CharField(max_length=20, blank=True, default="",
                                 choices=MerchantStatus.choices)
    reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_status}->{self.to_status}"


class FlagKind(models.TextChoices):
    LICENCE_EXPIRING = "licence_expiring", _("Licence expires soon")
    LICENCE_EXPIRED = "licence_expired", _("Licence expired")
    REVIEW_DUE = "review_due", _("Re-review due")


class Flag(models.Model):
    """A monitoring flag raised by the scheduled scan; it shows in the bank's queue."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=20, choices=FlagKind.choices)
    subject = models.CharField(max_length=60, blank=True, default="")  # e.g. licence id
    detail = models.CharField(max_length=200, blank=True, default="")
    raised_on = models.DateField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["resolved_at", "-raised_on"]
        constraints = [
            models.UniqueConstraint(fields=["dossier", "kind", "subject"],
                                    condition=models.Q(resolved_at__isnull=True),
                                    name="admission_one_open_flag"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"

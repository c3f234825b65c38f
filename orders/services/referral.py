"""Share links and referral touches (which bank's storefront, and whose link, brought a
shopper)."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from core.errors import ApplicationError
from orders.models import ReferralTouch, ShareLink

from ._common import _int_or_none


def share_link_for(*, sharer, bank: Bank, product=None, merchant=None) -> ShareLink:
    """The sharer's link for this bank's storefront (and product, or a shop shared as a
    whole); one per combination."""
    if product is not None:
        merchant = None  # a product's link names the product only
    link = ShareLink.objects.filter(sharer=sharer, bank=bank, product=product,
                                    merchant=merchant).first()
    if link is not None:
        return link
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return ShareLink.objects.create(code=secrets.token_urlsafe(6)[:8],
                                                sharer=sharer, bank=bank, product=product,
                                                merchant=merchant)
        except IntegrityError:
            link = ShareLink.objects.filter(sharer=sharer, bank=bank, product=product,
                                            merchant=merchant).first()
            if link is not None:
                return link
    raise ApplicationError(_("Could not make a share link; try again."))


def referral_touch(*, bank: Bank, user=None, share_code: str = "") -> ReferralTouch:
    """A shopper arrived at ``bank``'s storefront (through a share link if ``share_code``
    names one: the visit then counts for the sharer's bank and remembers the sharer)."""
    link = (ShareLink.objects.select_related("bank").filter(code=share_code).first()
            if share_code else None)
    if link is not None and link.bank.is_active:
        bank = link.bank
    else:
        link = None
    return ReferralTouch.objects.create(
        user=user if user is not None and user.is_authenticated else None, bank=bank,
        share_link=link, sharer=link.sharer if link else None, at=timezone.now())


def referral_claim(*, touch_ids, user) -> int:
    """At login: the session's anonymous touches become the account's."""
    ids = [i for i in (_int_or_none(t) for t in touch_ids or []) if i is not None]
    return ReferralTouch.objects.filter(pk__in=ids, user__isnull=True).update(user=user)

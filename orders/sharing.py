"""Sharing, read side: where a share link points, its poster, and what a sharer's links
brought on one bank's storefront (visits, orders, the points the bank's programme gave
for them through ``orders.interfaces.share_points``).

Writes stay in ``orders.services`` (``share_link_for``, ``referral_touch``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Min
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from banks.models import Bank
from orders import interfaces
from orders.models import Order, OrderStatus, ShareLink


def share_link_of(*, sharer, bank: Bank, code: str) -> ShareLink:
    """The sharer's own link on this bank's storefront; anyone else's (or unknown) is 404."""
    link = (ShareLink.objects.select_related("bank", "product__merchant", "merchant")
            .filter(code=code, sharer=sharer, bank=bank).first())
    if link is None:
        raise Http404
    return link


def share_path(link: ShareLink) -> str:
    """The storefront page the link opens, with its ``?ref=`` code."""
    if link.product_id:
        target = reverse("catalog:product", args=[link.product_id])
    elif link.merchant_id:
        target = reverse("catalog:shop", args=[link.merchant_id])
    else:
        target = "/"
    return f"{target}?ref={link.code}"


def share_url(request, link: ShareLink) -> str:
    return request.build_absolute_uri(share_path(link))


def poster_png(request, link: ShareLink) -> bytes:
    """The link's poster (product: picture, name, lowest price; shop: its name and kind)."""
    from orders.posters import share_poster_png

    bank_name = link.bank.name
    if link.product_id:
        product = link.product
        price = product.skus.aggregate(p=Min("price"))["p"]
        picture = None
        if product.image:
            try:
                picture = product.image.path
            except (NotImplementedError, ValueError):
                picture = None
        return share_poster_png(
            title=product.name, subtitle=product.merchant.name, url=share_url(request, link),
            bank_name=bank_name, price=price,
            price_note=_("from") if price is not None else "", picture_path=picture,
            call_to_action=_("Scan the code to buy it on our storefront"))
    merchant = link.merchant
    title = merchant.name if merchant else bank_name
    subtitle = " ".join(x for x in (getattr(merchant, "county", ""),
                                    getattr(merchant, "township", "")) if x)
    return share_poster_png(
        title=title, subtitle=subtitle, url=share_url(request, link), bank_name=bank_name,
        call_to_action=_("Scan the code to visit the shop"))


@dataclass
class SharedOrder:
    order: Order
    points: int


@dataclass
class MyShares:
    links: list = field(default_factory=list)        # ShareLink with .visits
    orders: list = field(default_factory=list)       # SharedOrder
    visits: int = 0
    order_count: int = 0
    completed_total: Decimal = Decimal("0.00")
    points: int = 0


def my_shares(*, sharer, bank: Bank, limit: int = 50) -> MyShares:
    """The sharer's links to this bank's storefront with their visits, the orders they
    brought (the last ``limit``), and the points earned from those orders."""
    links = list(ShareLink.objects.filter(sharer=sharer, bank=bank)
                 .select_related("product", "merchant")
                 .annotate(visits=Count("touches")).order_by("-created_at", "-id"))
    brought = Order.objects.filter(sharer=sharer, referrer_bank=bank).exclude(buyer=sharer)
    recent = list(brought.select_related("merchant").order_by("-created_at", "-id")[:limit])
    ids = list(brought.values_list("pk", flat=True))
    points = interfaces.share_points(bank=bank, sharer=sharer, order_ids=ids)
    completed = brought.filter(status=OrderStatus.COMPLETED)
    total = sum((o.total - o.refunded_total for o in completed.only("total", "refunded_total")),
                Decimal("0.00"))
    return MyShares(
        links=links, orders=[SharedOrder(order=o, points=points.get(o.pk, 0)) for o in recent],
        visits=sum(link.visits for link in links), order_count=len(ids),
        completed_total=total, points=sum(points.values()))

"""Sharing pages on a bank's storefront: a share link's poster (PNG) and "my shares"
(links, visits, the orders they brought and the points those earned). Thin: reads are
``orders.sharing`` calls scoped to the sharer and this bank (anyone else's link is 404)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from orders import sharing


@login_required
@require_GET
@cache_control(private=True, max_age=3600)
def poster(request, code: str):
    if request.bank is None:
        raise Http404
    link = sharing.share_link_of(sharer=request.user, bank=request.bank, code=code[:40])
    response = HttpResponse(sharing.poster_png(request, link), content_type="image/png")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="share-{link.code}.png"'
    return response


@login_required
@require_GET
def my_shares(request):
    if request.bank is None:
        raise Http404
    shares = sharing.my_shares(sharer=request.user, bank=request.bank)
    rows = [{"link": link, "url": sharing.share_url(request, link)} for link in shares.links]
    return render(request, "orders/my_shares.html", {"shares": shares, "rows": rows})

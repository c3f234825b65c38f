from django.conf import settings


def site(request):
    """What every page's layout needs: the bank of this domain (None on the portal)."""
    bank = getattr(request, "bank", None)
    return {
        "bank": bank,
        "is_portal": bank is None,
        "brand_color": bank.brand_color if bank is not None else "#0f5e3c",
        "LANGUAGES": settings.LANGUAGES,
        "search_max_length": settings.SEARCH_MAX_QUERY_LENGTH,
    }

"""Accounts' scheduled work."""

from __future__ import annotations

from celery import shared_task

from accounts.services import api_tokens_delete_expired


@shared_task
def delete_expired_api_tokens() -> int:
    """Daily: API tokens past their expiry are deleted (a request with one is refused)."""
    return api_tokens_delete_expired()

"""What a sharer earned: the points of this bank's programme for orders their links
brought (registered with ``orders`` for its "my shares" page and API)."""

from __future__ import annotations

from django_tenants.utils import schema_context

from rewards.models import EntryKind, PointsEntry


def share_points(*, bank, sharer, order_ids) -> dict:
    """{order id: points} earned by ``sharer`` in ``bank``'s programme (its schema)."""
    refs = {f"share:{pk}": pk for pk in order_ids}
    with schema_context(bank.schema_name):
        rows = list(PointsEntry.objects.filter(user_id=sharer.pk, kind=EntryKind.EARNED,
                                               reference__in=list(refs))
                    .values_list("reference", "points"))
    return {refs[ref]: points for ref, points in rows}

"""Units held before catalog.0003 had been taken off ``Sku.stock``; now they are counted
in ``Sku.reserved`` and are part of ``on_hand`` until the goods leave (shipped or handed
to the pickup branch). Held are the lines of unpaid checkouts and of paid orders not yet
sent, including those waiting on a refund request made before they were sent."""

from django.db import migrations

HELD = """
    WITH held AS (
        SELECT l.sku_id, SUM(l.quantity) AS quantity
        FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id
        WHERE o.status IN ('pending_payment', 'paid')
           OR (o.status = 'refund_requested' AND o.status_before_refund = 'paid')
        GROUP BY l.sku_id
    )
    UPDATE catalog_sku s SET on_hand = s.on_hand + held.quantity,
                             reserved = s.reserved + held.quantity
    FROM held WHERE held.sku_id = s.id
"""

UNDO = "UPDATE catalog_sku SET on_hand = on_hand - reserved, reserved = 0"


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0003_sku_on_hand_reserved'),
        ('orders', '0003_assistedorder_remove_sharelink_orders_sharelink_once_and_more'),
    ]

    operations = [
        migrations.RunSQL(HELD, UNDO),
    ]

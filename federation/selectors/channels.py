"""What the outside sales channels (partner platforms) sold, beside the banks'
storefronts: per channel and merchants' bank (the heat map's extra rows), per channel and
day, and per channel and month.

The figures come from the channels themselves through ``orders.interfaces.channel_sales``
(the partners app registers a small grouped read of the shared orders): no bank's schema
is read. A partner's checkout has no storefront, so its orders are also inside the
portal's row of the roll-ups; these rows say which of them a partner brought.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from federation.selectors._common import ZERO
from orders.interfaces import channel_sales


@dataclass
class ChannelRow:
    channel: str
    name: str
    period: str  # a day (YYYY-MM-DD) or a month (YYYY-MM)
    orders: int = 0
    gmv: Decimal = ZERO


@dataclass
class ChannelCell:
    orders: int = 0
    gmv: Decimal = ZERO


@dataclass
class Channels:
    channels: list[tuple[str, str]]  # (key, name), by name
    cells: dict[tuple[str, int], ChannelCell] = field(default_factory=dict)
    by_day: list[ChannelRow] = field(default_factory=list)
    by_month: list[ChannelRow] = field(default_factory=list)
    orders: int = 0
    gmv: Decimal = ZERO

    def cell(self, channel: str, merchant_bank_id: int) -> ChannelCell | None:
        return self.cells.get((channel, merchant_bank_id))


def channel_sales_view(*, start: datetime.date, end: datetime.date) -> Channels:
    rows = channel_sales(start=start, end=end)
    names: dict[str, str] = {}
    cells: dict[tuple[str, int], ChannelCell] = {}
    days: dict[tuple[str, str], ChannelRow] = {}
    months: dict[tuple[str, str], ChannelRow] = {}
    total = Channels(channels=[])
    for r in rows:
        names[r.channel] = r.name
        cell = cells.setdefault((r.channel, r.merchant_bank_id), ChannelCell())
        cell.orders += r.orders
        cell.gmv += r.gmv
        for bucket, period in ((days, r.day.isoformat()), (months, f"{r.day:%Y-%m}")):
            row = bucket.setdefault((period, r.channel), ChannelRow(
                channel=r.channel, name=r.name, period=period))
            row.orders += r.orders
            row.gmv += r.gmv
        total.orders += r.orders
        total.gmv += r.gmv
    total.channels = sorted(names.items(), key=lambda kv: (kv[1], kv[0]))
    total.cells = cells
    order = {key: i for i, (key, _name) in enumerate(total.channels)}
    total.by_day = sorted(days.values(), key=lambda x: (x.period, order[x.channel]))
    total.by_month = sorted(months.values(), key=lambda x: (x.period, order[x.channel]))
    return total

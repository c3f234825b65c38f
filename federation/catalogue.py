"""The data catalogue: every kind of data the platform collects about behaviour and
trade, why, who may use it and how long it is kept.

The catalogue is enforced, not only shown:
- ``federation.recorder`` buffers only the event kinds and fields declared here;
- ``federation.services.events_flush`` keeps a user id only with the person's
  BEHAVIOUR consent;
- ``federation.services.retention_enforce`` (a daily task) deletes what is past its
  ``retention_days``;
- ``federation.services.data_use_log`` refuses a purpose the entry does not allow and
  records every use of personal behaviour data beyond the dashboards (credit scoring).

It is shown on the portal at /federation/data-catalogue/ and in docs/operations.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


class Purpose:
    TRAFFIC = "traffic_statistics"
    REFERRAL = "referral_credit"
    CREDIT = "credit_scoring"


PURPOSE_LABELS = {
    Purpose.TRAFFIC: _("Traffic statistics and dashboards"),
    Purpose.REFERRAL: _("Referral credit between banks"),
    Purpose.CREDIT: _("Credit scoring and credit lines"),
}


@dataclass(frozen=True)
class DataKind:
    key: str
    title: str
    description: str
    store: str                      # where it is kept
    event_kinds: tuple[str, ...]    # federation.Event kinds it covers (may be empty)
    fields: tuple[str, ...]         # what may be recorded
    purposes: tuple[str, ...]
    users: str                      # who may use it
    retention_days: int | None      # None: not deleted by the retention task
    personal: bool                  # can it identify a person?
    consent: str                    # the condition for the personal part

    @property
    def purpose_labels(self) -> list[str]:
        return [str(PURPOSE_LABELS[p]) for p in self.purposes]


# Fields every event may carry (the user id only reaches the table with consent).
_COMMON = ("storefront_bank_id", "session_hash", "user_id")

ENTRIES: tuple[DataKind, ...] = (
    DataKind(
        key="storefront_events",
        title=_("Storefront visits, product views, add-to-cart, share-link clicks"),
        description=_("Which storefront a visitor used, which products they looked at and "
                      "put in their cart, and which share link brought them."),
        store="federation.Event",
        event_kinds=("visit", "product_view", "add_to_cart", "share_click"),
        fields=(*_COMMON, "product_id", "sku_id", "quantity", "share_code"),
        purposes=(Purpose.TRAFFIC, Purpose.REFERRAL),
        users=_("Federation admins (all banks, in aggregate); each bank's staff (its own "
                "storefront and merchants, in aggregate)"),
        retention_days=180,
        personal=True,
        consent=_("Without consent only a keyed hash of a random visitor cookie; the "
                  "account only with the person's consent to behaviour recording"),
    ),
    DataKind(
        key="search_queries",
        title=_("Searches and their words"),
        description=_("What visitors search for on a storefront."),
        store="federation.Event",
        event_kinds=("search",),
        fields=(*_COMMON, "query", "results"),
        purposes=(Purpose.TRAFFIC,),
        users=_("Federation admins; each bank's staff for its own storefront"),
        retention_days=90,
        personal=True,
        consent=_("Without consent only a keyed hash of a random visitor cookie; the "
                  "account only with the person's consent to behaviour recording"),
    ),
    DataKind(
        key="purchase_events",
        title=_("Checkouts and purchases"),
        description=_("Which products were bought through which storefront, in what "
                      "quantity and for how much, and the buyer's customer group."),
        store="federation.Event",
        event_kinds=("checkout", "purchase"),
        fields=(*_COMMON, "checkout_id", "order_id", "product_id", "quantity", "amount",
                "segment"),
        purposes=(Purpose.TRAFFIC, Purpose.REFERRAL, Purpose.CREDIT),
        users=_("Federation admins and banks' staff in aggregate; a bank's credit "
                "officers for one person only with that person's consent to credit use "
                "by that bank, and every such use is logged"),
        retention_days=730,
        personal=True,
        consent=_("The account only with consent to behaviour recording; without it a "
                  "buyer pseudonym that changes every day (counts buyers, links nothing)"),
    ),
    DataKind(
        key="daily_rollups",
        title=_("Daily traffic and sales figures"),
        description=_("Counts and sums per day, per pair of banks, merchant, category, "
                      "region of origin, customer group and product. No person in them."),
        store="federation.Daily*Stat",
        event_kinds=(),
        fields=(),
        purposes=(Purpose.TRAFFIC, Purpose.REFERRAL),
        users=_("Federation admins (all); each bank's staff (rows of its own bank)"),
        retention_days=1825,
        personal=False,
        consent=_("Not personal"),
    ),
    DataKind(
        key="data_use_log",
        title=_("Log of uses of personal behaviour data"),
        description=_("Who used whose behaviour data, for what purpose and when."),
        store="federation.DataUse",
        event_kinds=(),
        fields=(),
        purposes=(Purpose.CREDIT,),
        users=_("Federation admins; the bank that made the use"),
        retention_days=1825,
        personal=True,
        consent=_("Kept to account for each use"),
    ),
    DataKind(
        key="consents",
        title=_("Consents"),
        description=_("Each consent given and withdrawn (behaviour recording; credit use "
                      "by a named bank)."),
        store="accounts.Consent",
        event_kinds=(),
        fields=(),
        purposes=(Purpose.TRAFFIC, Purpose.CREDIT),
        users=_("The person; the platform to decide what may be recorded and used"),
        retention_days=None,
        personal=True,
        consent=_("Kept as long as the account, as proof of what was allowed"),
    ),
)

BY_KEY = {entry.key: entry for entry in ENTRIES}
_BY_EVENT_KIND = {kind: entry for entry in ENTRIES for kind in entry.event_kinds}
_FIELDS = {kind: frozenset(entry.fields) for kind, entry in _BY_EVENT_KIND.items()}


def entry_for_kind(kind: str) -> DataKind | None:
    return _BY_EVENT_KIND.get(kind)


def recordable_fields(kind: str) -> frozenset[str] | None:
    """The fields an event of ``kind`` may carry; None if the kind is not declared."""
    return _FIELDS.get(kind)


def event_retention() -> dict[str, int]:
    """Days each event kind is kept."""
    return {kind: entry.retention_days for kind, entry in _BY_EVENT_KIND.items()
            if entry.retention_days is not None}


def allows(key: str, purpose: str) -> bool:
    entry = BY_KEY.get(key)
    return entry is not None and purpose in entry.purposes

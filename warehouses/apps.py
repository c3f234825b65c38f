from django.utils.translation import gettext_lazy as _

from core import appconfig

ACTIONS = {
    "warehouse_registered": _("Warehouse registered"),
    "warehouse_approve": _("Warehouse approved"),
    "warehouse_reject": _("Warehouse rejected"),
    "warehouse_suspend": _("Warehouse suspended"),
    "warehouse_reinstate": _("Warehouse reinstated"),
    "receipt_issued": _("Warehouse receipt issued"),
    "receipt_transferred": _("Warehouse receipt transferred"),
    "receipt_cancelled": _("Warehouse receipt cancelled"),
    "receipt_pledged": _("Warehouse receipt pledged"),
    "receipt_released": _("Warehouse receipt pledge released"),
}


class WarehousesConfig(appconfig.PlatformAppConfig):
    name = "warehouses"
    scope = "shared"
    verbose_name = "Warehouses and warehouse receipts"

    def ready(self) -> None:
        # Late: models are not importable before the registry is ready.
        from banks.audit import register_actions
        from catalog.services import register_stock_issue_hook
        from warehouses.services.stock import lots_issue_shipped

        register_actions(bank={action: ("bank", label) for action, label in ACTIONS.items()})
        # Goods of orders shipped leave the SKU's lots in the shipping transaction.
        register_stock_issue_hook(lots_issue_shipped)

from django.utils.translation import gettext_lazy as _

from core import appconfig

ACTIONS = {"recall_opened": _("Recall opened"), "recall_closed": _("Recall closed")}


class RecallsConfig(appconfig.PlatformAppConfig):
    name = "recalls"
    scope = "shared"
    verbose_name = "Food-safety recalls"

    def ready(self) -> None:
        # Late: models are not importable before the registry is ready.
        from banks.audit import register_actions

        # A bank's recalls on its audit page, the federation's on the federation's.
        register_actions(federation=ACTIONS,
                         bank={action: ("bank", label) for action, label in ACTIONS.items()})

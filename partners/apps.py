from core import appconfig


class PartnersConfig(appconfig.PlatformAppConfig):
    name = "partners"
    scope = "shared"
    verbose_name = "Partner platforms"

    def ready(self) -> None:
        # Late: models are not importable before the registry is ready.
        from banks.audit import register_actions
        from partners.selectors import ACTION_LABELS, BANK_SIDE

        register_actions(
            federation={a: label for a, label in ACTION_LABELS.items() if a not in BANK_SIDE},
            bank={a: ("bank", ACTION_LABELS[a]) for a in BANK_SIDE})

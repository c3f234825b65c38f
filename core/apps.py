from core import appconfig


class CoreConfig(appconfig.PlatformAppConfig):
    name = "core"
    scope = "shared"
    verbose_name = "Core"

    def ready(self) -> None:
        # Late, as AppConfig.ready must: the checks and DRF's fields load with the models.
        from core import checks  # noqa: F401 - registers the checks
        from core.api import require_json_strings

        require_json_strings()

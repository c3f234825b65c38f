from core import appconfig


class AdmissionConfig(appconfig.PlatformAppConfig):
    name = "admission"
    scope = "tenant"
    verbose_name = "Merchant admission"

    def ready(self) -> None:
        from admission.selectors import audit_entries
        from banks.audit import register_audit_source

        register_audit_source(("admission",), audit_entries)

from core import appconfig


class AdmissionConfig(appconfig.PlatformAppConfig):
    name = "admission"
    scope = "tenant"
    verbose_name = "Merchant admission"

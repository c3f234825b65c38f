from core import appconfig


class NotificationsConfig(appconfig.PlatformAppConfig):
    name = "notifications"
    scope = "shared"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from admission.models import DossierEvent
        from lending.models import LendingEvent
        from notifications import receivers
        from orders.models import OrderEvent, OrderMessage

        post_save.connect(receivers.order_event_saved, sender=OrderEvent,
                          dispatch_uid="notifications.order_event")
        post_save.connect(receivers.order_message_saved, sender=OrderMessage,
                          dispatch_uid="notifications.order_message")
        post_save.connect(receivers.lending_event_saved, sender=LendingEvent,
                          dispatch_uid="notifications.lending_event")
        post_save.connect(receivers.dossier_event_saved, sender=DossierEvent,
                          dispatch_uid="notifications.dossier_event")
        from recalls.signals import recall_opened

        recall_opened.connect(receivers.recall_was_opened,
                              dispatch_uid="notifications.recall_opened")

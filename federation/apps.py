from core import appconfig


class FederationConfig(appconfig.PlatformAppConfig):
    name = "federation"
    scope = "shared"
    verbose_name = "Federation"

    def ready(self) -> None:
        from federation import receivers
        from orders import hooks

        hooks.cart_item_added.connect(receivers.on_cart_item_added,
                                      dispatch_uid="federation.cart_item_added")
        hooks.checkout_placed.connect(receivers.on_checkout_placed,
                                      dispatch_uid="federation.checkout_placed")
        hooks.checkout_paid.connect(receivers.on_checkout_paid,
                                    dispatch_uid="federation.checkout_paid")

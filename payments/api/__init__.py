"""Payments API: paying a checkout by card (idempotent by the client's key), reading a
payment, giving up a checkout, the gateway's webhook, and settlement for bank staff and a
shop's members.

One module per use case; ``payments.api_urls`` and other apps' serializers import from
here (``from payments import api``).
"""

from .checkout_payments import (
    IDEMPOTENCY_KEY,
    NEXT_STEPS,
    CardInputSerializer,
    CheckoutCancelApi,
    CheckoutPaymentApi,
    PaymentDetailApi,
    PaymentInputSerializer,
    PaymentSerializer,
)
from .gateway_refunds import (
    ConsoleGatewayRefundResolveApi,
    ConsoleGatewayRefundsApi,
    GatewayRefundSerializer,
)
from .settlement_runs import (
    MONEY_FIELD,
    ConsolePayoutBatchApi,
    ConsolePayoutBatchFileApi,
    ConsolePayoutLineConfirmApi,
    ConsolePayoutLineFailApi,
    ConsoleSettlementRunApi,
    ConsoleSettlementRunsApi,
    CsvRenderer,
    PayoutBatchSerializer,
    PayoutLineSerializer,
    ReconciliationCheckSerializer,
    ReconciliationRunSerializer,
    ReconciliationSerializer,
    SettlementRunDetailSerializer,
    SettlementRunSerializer,
)
from .statements import (
    ConsoleMerchantSettlementAccountApi,
    ConsoleMerchantStatementApi,
    MerchantSettlementsApi,
    MerchantSettlementsSerializer,
    MerchantStatementSerializer,
    SettlementItemSerializer,
    StatementEntrySerializer,
)
from .webhooks import WebhookApi

__all__ = [
    "IDEMPOTENCY_KEY",
    "MONEY_FIELD",
    "NEXT_STEPS",
    "CardInputSerializer",
    "CheckoutCancelApi",
    "CheckoutPaymentApi",
    "ConsoleGatewayRefundResolveApi",
    "ConsoleGatewayRefundsApi",
    "ConsoleMerchantSettlementAccountApi",
    "ConsoleMerchantStatementApi",
    "ConsolePayoutBatchApi",
    "ConsolePayoutBatchFileApi",
    "ConsolePayoutLineConfirmApi",
    "ConsolePayoutLineFailApi",
    "ConsoleSettlementRunApi",
    "ConsoleSettlementRunsApi",
    "CsvRenderer",
    "GatewayRefundSerializer",
    "MerchantSettlementsApi",
    "MerchantSettlementsSerializer",
    "MerchantStatementSerializer",
    "PaymentDetailApi",
    "PaymentInputSerializer",
    "PaymentSerializer",
    "PayoutBatchSerializer",
    "PayoutLineSerializer",
    "ReconciliationCheckSerializer",
    "ReconciliationRunSerializer",
    "ReconciliationSerializer",
    "SettlementItemSerializer",
    "SettlementRunDetailSerializer",
    "SettlementRunSerializer",
    "StatementEntrySerializer",
    "WebhookApi",
]

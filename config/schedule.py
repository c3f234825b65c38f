"""What the platform does by the clock: the Celery beat schedule (docs/operations.md
lists each task, when it runs and what it does). Hours are Asia/Shanghai time."""

from __future__ import annotations

from celery.schedules import crontab

from config.env import env

BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "core.tasks.heartbeat",
        "schedule": 15.0,
    },
    "accounts-expired-api-tokens": {  # API tokens past their expiry are deleted
        "task": "accounts.tasks.delete_expired_api_tokens",
        "schedule": crontab(hour=3, minute=5),
    },
    "admission-flags": {  # licences expiring or expired, re-reviews due
        "task": "admission.tasks.scan_all_banks",
        "schedule": crontab(hour=2, minute=30),
    },
    "orders-expire-reservations": {  # abandoned checkouts give their stock back
        "task": "payments.tasks.expire_reservations",
        "schedule": 60.0,
    },
    "partners-webhook-retries": {  # partner webhook deliveries whose retry is due
        "task": "partners.tasks.deliver_due_webhooks",
        "schedule": 60.0,
    },
    "payments-reconcile": {  # payments whose webhook never came
        "task": "payments.tasks.reconcile_payments",
        "schedule": 300.0,
    },
    "payments-settlement": {  # daily: confirmed orders out of escrow, payout files
        "task": "payments.tasks.settle_daily",
        "schedule": crontab(hour=int(env("SETTLEMENT_DAILY_HOUR", "1")), minute=30),
    },
    "orders-auto-confirm": {  # receipt confirmed after ORDER_AUTO_CONFIRM_DAYS
        "task": "orders.tasks.auto_confirm_orders",
        "schedule": crontab(minute=10),
    },
    "orders-returns-time-out": {  # return steps nobody took in time (ORDER_RETURN_*_DAYS)
        "task": "orders.tasks.time_out_returns",
        "schedule": crontab(minute=25),
    },
    "lending-age-loans": {  # penalty interest and delinquency buckets
        "task": "lending.tasks.age_all_banks",
        "schedule": crontab(hour=0, minute=20),
    },
    "lending-pledge-margins": {  # pledged goods re-valued at the platform's prices
        "task": "lending.tasks.margin_check_all_banks",
        "schedule": crontab(hour=6, minute=15),
    },
    "rewards-points-daily": {  # points expire oldest first; missed earnings caught up
        "task": "rewards.tasks.points_daily_all_banks",
        "schedule": crontab(hour=0, minute=40),
    },
    "lending-reconcile-repayments": {  # card repayments whose answer was lost
        "task": "lending.tasks.reconcile_all_banks",
        "schedule": 300.0,
    },
    "rewards-reconcile-cash": {  # points-mall cash payments whose answer was lost
        "task": "rewards.tasks.reconcile_cash_all_banks",
        "schedule": 300.0,
    },
    "lending-scoring": {  # every bank's credit profiles recomputed
        "task": "lending.tasks.score_all_banks",
        "schedule": crontab(hour=int(env("LENDING_SCORING_HOUR", "3")), minute=0),
    },
    "federation-events-flush": {  # buffered traffic events into the table, in batches
        "task": "federation.tasks.events_flush",
        "schedule": float(env("TRAFFIC_FLUSH_SECONDS", "5")),
    },
    "federation-rollup": {  # today's and yesterday's figures recomputed
        "task": "federation.tasks.rollup_recent",
        "schedule": crontab(minute="*/15"),
    },
    "notifications-instalments": {  # borrowers: instalments due in 3 days, overdue
        "task": "notifications.tasks.instalment_reminders",
        "schedule": crontab(hour=8, minute=0),
    },
    "notifications-points": {  # customers: points expiring within a month, once
        "task": "notifications.tasks.points_expiry_reminders",
        "schedule": crontab(hour=8, minute=5),
    },
    "federation-retention": {  # the data catalogue's retention periods
        "task": "federation.tasks.retention_enforce",
        "schedule": crontab(hour=3, minute=40),
    },
}

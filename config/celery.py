"""Celery application: Redis broker, at-least-once delivery, tasks must be idempotent."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("tend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # A task is acknowledged after it finishes, and re-queued if its worker dies mid-run:
    # nothing is lost; every task is written to be safe to run twice.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_time_limit=300,
    task_soft_time_limit=240,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600},
    timezone="UTC",
    beat_schedule={
        "audit-chain-verify-nightly": {
            "task": "practice.tasks.audit_chain_verify_task",
            "schedule": crontab(hour=3, minute=17),
        },
        # Daily: remind primary clinicians of treatment plans due for review within 7 days (fans out per practice).
        "treatment-plan-review-reminders-daily": {
            "task": "clinical.tasks.treatment_plan_review_reminders_task",
            "schedule": crontab(hour=12, minute=5),
        },
        # Every minute: expire overdue waitlist offers and offer those slots to the next matches.
        "waitlist-offers-expire": {
            "task": "scheduling.tasks.waitlist_offers_expire_task",
            "schedule": 60.0,
        },
        # Every minute: due reminders (claimed pending -> sending, sent once) and rows a dead worker left.
        "reminders-dispatch-due": {
            "task": "notifications.tasks.reminders_dispatch_due_task",
            "schedule": 60.0,
        },
        # Every minute: questionnaires due (claimed, sent once with a fresh single-use link) and
        # links past their expiry; hourly: protocols assigned to newly matching patients.
        "questionnaires-dispatch-due": {
            "task": "assessments.tasks_delivery.administrations_dispatch_due_task",
            "schedule": 60.0,
        },
        "questionnaires-expire": {
            "task": "assessments.tasks_delivery.administrations_expire_task",
            "schedule": 300.0,
        },
        "protocols-auto-assign": {
            "task": "assessments.tasks_delivery.protocols_auto_assign_task",
            "schedule": crontab(minute=23),
        },
        # Every minute: risk alerts left unacknowledged past the practice's limit go up a level.
        "risk-alerts-escalate": {
            "task": "assessments.tasks_alerts.risk_alerts_escalate_task",
            "schedule": 60.0,
        },
        # Every 15 minutes: upload released 837 files and collect 999/277CA/835 files (clearinghouse).
        "clearinghouse-sync": {
            "task": "billing.tasks_clearinghouse.clearinghouse_sync_task",
            "schedule": 900.0,
        },
        # Every 2 minutes: 837 export requests whose task message was lost or whose worker died.
        "claim-exports-recover": {
            "task": "billing.tasks_export.claims_export_recover_task",
            "schedule": 120.0,
        },
        # Every 30 minutes and nightly: the A/R aging cells (billing.ar_rollup). The dashboard reads what
        # the cells do not hold live, so this only keeps that live part small.
        "ar-aging-rollup": {
            "task": "billing.tasks_rollup.ar_rollup_task",
            "schedule": 1800.0,
        },
        "ar-aging-rollup-nightly": {
            "task": "billing.tasks_rollup.ar_rollup_task",
            "schedule": crontab(hour=2, minute=40),
        },
        # Every 15 minutes: the A/R dashboard's whole-ledger figures for today's windows
        # (billing.selectors_ar.LedgerFigures; the dashboard's note says "every 15 minutes").
        "ar-dashboard-figures": {
            "task": "billing.tasks_rollup.ar_figures_task",
            "schedule": 900.0,
        },
        # Every 10 minutes: charges whose creation a crash interrupted (signed notes without one).
        "charges-catch-up": {
            "task": "billing.tasks_charges.charges_catch_up_task",
            "schedule": 600.0,
        },
        # Monthly (the 1st, 06:10): patient statements for last month, emailed without amounts.
        "statements-monthly": {
            "task": "billing.tasks_statements.statements_monthly_task",
            "schedule": crontab(day_of_month=1, hour=6, minute=10),
        },
        # Every minute: webhook deliveries whose retry time has come (each attempt claimed once).
        "webhooks-send-due": {
            "task": "integrations.tasks_webhooks.webhooks_send_due_task",
            "schedule": 60.0,
        },
        # Daily: full exports not downloaded within 7 days are deleted (also done on the next request).
        "exports-purge-expired": {
            "task": "integrations.tasks_data.exports_purge_expired_task",
            "schedule": crontab(hour=4, minute=41),
        },
        "notifications-recover-stuck": {
            "task": "notifications.tasks.notifications_recover_stuck_task",
            "schedule": 60.0,
        },
    },
)
app.autodiscover_tasks()

from django.urls import path

from frontend.views import agent, brand, gigs, home, pools, staff, tasks

app_name = "frontend"

urlpatterns = [
    path("", home.home, name="home"),
    # Agents
    path("agent/", agent.agent_home, name="agent_home"),
    path("agent/profile/", agent.agent_profile, name="agent_profile"),
    # Brand console
    path("brands/new/", brand.brand_create, name="brand_create"),
    path("brands/<slug:slug>/", brand.brand_home, name="brand_home"),
    path("brands/<slug:slug>/team/", brand.brand_team, name="brand_team"),
    path(
        "brands/<slug:slug>/team/members/<int:membership_id>/",
        brand.member_update,
        name="member_update",
    ),
    path(
        "brands/<slug:slug>/team/invitations/<int:invitation_id>/revoke/",
        brand.invitation_revoke,
        name="invitation_revoke",
    ),
    path("brands/<slug:slug>/api-keys/", brand.api_key_list, name="api_key_list"),
    path(
        "brands/<slug:slug>/api-keys/<int:key_id>/revoke/",
        brand.api_key_revoke,
        name="api_key_revoke",
    ),
    path("invitations/<str:token>/", brand.invitation_accept, name="invitation_accept"),
    path("brands/<slug:slug>/gigs/", gigs.gig_list, name="gig_list"),
    path("brands/<slug:slug>/gigs/new/", gigs.gig_create, name="gig_create"),
    path("brands/<slug:slug>/gigs/<int:gig_id>/", gigs.gig_detail, name="gig_detail"),
    path("brands/<slug:slug>/gigs/<int:gig_id>/edit/", gigs.gig_edit, name="gig_edit"),
    path("brands/<slug:slug>/gigs/<int:gig_id>/status/", gigs.gig_status, name="gig_status"),
    path("brands/<slug:slug>/tasks/", tasks.task_list, name="task_list"),
    path("brands/<slug:slug>/tasks/new/", tasks.task_create, name="task_create"),
    path("brands/<slug:slug>/tasks/import/", tasks.task_import, name="task_import"),
    path(
        "brands/<slug:slug>/tasks/import/<int:import_id>/",
        tasks.task_import_detail,
        name="task_import_detail",
    ),
    path("brands/<slug:slug>/tasks/<int:task_id>/", tasks.task_detail, name="task_detail"),
    # Staff console
    path("staff/", staff.staff_home, name="staff_home"),
    path("staff/audit/", staff.audit_log, name="audit_log"),
    # --- Agent pools: brand admins manage applications, invitations and tiers;
    # agents browse brands, apply and answer invitations.
    path("brands/<slug:slug>/pool/", pools.brand_pool, name="brand_pool"),
    path(
        "brands/<slug:slug>/pool/<int:membership_id>/",
        pools.pool_member_update,
        name="pool_member_update",
    ),
    path("agent/brands/", pools.agent_brands, name="agent_brands"),
    path("agent/brands/<slug:brand_slug>/apply/", pools.pool_apply, name="pool_apply"),
    path(
        "agent/pools/<int:membership_id>/accept/",
        pools.pool_invitation_accept,
        name="pool_invitation_accept",
    ),
    path(
        "agent/pools/<int:membership_id>/decline/",
        pools.pool_invitation_decline,
        name="pool_invitation_decline",
    ),
]

# Live views
from frontend.views import live  # noqa: E402

urlpatterns += [
    path("brands/<slug:slug>/live/", live.brand_live, name="brand_live"),
    path("brands/<slug:slug>/live/summary/", live.brand_live_summary, name="brand_live_summary"),
    path("staff/live/", live.staff_live, name="staff_live"),
]

# Workspace and customer pages
from frontend.views import brand_settings, customer, workspace  # noqa: E402

urlpatterns += [
    # The agent's workspace: held tasks, and working one of them.
    path("agent/work/", workspace.work_list, name="work_list"),
    path("agent/work/<int:task_id>/", workspace.work_detail, name="work_detail"),
    path(
        "agent/work/<int:task_id>/conversation/",
        workspace.work_conversation,
        name="work_conversation",
    ),
    path("agent/work/<int:task_id>/reply/", workspace.work_reply, name="work_reply"),
    path("agent/work/<int:task_id>/note/", workspace.work_note, name="work_note"),
    path("agent/work/<int:task_id>/resolve/", workspace.work_resolve, name="work_resolve"),
    path("agent/work/<int:task_id>/escalate/", workspace.work_escalate, name="work_escalate"),
    path("agent/work/<int:task_id>/release/", workspace.work_release, name="work_release"),
    # The customer's page behind the signed link; no login.
    path("c/<str:token>/", customer.customer_conversation, name="customer_conversation"),
    path("c/<str:token>/reply/", customer.customer_reply, name="customer_reply"),
    path("c/<str:token>/rate/", customer.customer_rate, name="customer_rate"),
    # Brand console: what agents work with.
    path(
        "brands/<slug:slug>/canned-replies/",
        brand_settings.canned_reply_list,
        name="canned_reply_list",
    ),
    path(
        "brands/<slug:slug>/canned-replies/<int:canned_reply_id>/",
        brand_settings.canned_reply_edit,
        name="canned_reply_edit",
    ),
    path(
        "brands/<slug:slug>/canned-replies/<int:canned_reply_id>/delete/",
        brand_settings.canned_reply_remove,
        name="canned_reply_delete",
    ),
    path(
        "brands/<slug:slug>/resolution-codes/",
        brand_settings.resolution_code_list,
        name="resolution_code_list",
    ),
    path(
        "brands/<slug:slug>/resolution-codes/<int:code_id>/active/",
        brand_settings.resolution_code_activation,
        name="resolution_code_set_active",
    ),
]

# Agent queue
from frontend.views import earnings, queue  # noqa: E402

urlpatterns += [
    path("agent/queue/", queue.agent_queue, name="agent_queue"),
    path("agent/earnings/", earnings.agent_earnings_page, name="agent_earnings"),
    path("agent/earnings.csv", earnings.agent_earnings_csv, name="agent_earnings_csv"),
]

# Brand webhooks
from frontend.views import webhooks as webhook_views  # noqa: E402

urlpatterns += [
    path(
        "brands/<slug:slug>/webhooks/",
        webhook_views.webhook_endpoint_list,
        name="webhook_endpoint_list",
    ),
    path(
        "brands/<slug:slug>/webhooks/deliveries/",
        webhook_views.webhook_delivery_list,
        name="webhook_delivery_list",
    ),
    path(
        "brands/<slug:slug>/webhooks/deliveries/<int:delivery_id>/",
        webhook_views.webhook_delivery_detail,
        name="webhook_delivery_detail",
    ),
    path(
        "brands/<slug:slug>/webhooks/deliveries/<int:delivery_id>/redeliver/",
        webhook_views.webhook_delivery_redeliver,
        name="webhook_delivery_redeliver",
    ),
    path(
        "brands/<slug:slug>/webhooks/<int:endpoint_id>/",
        webhook_views.webhook_endpoint_detail,
        name="webhook_endpoint_detail",
    ),
    path(
        "brands/<slug:slug>/webhooks/<int:endpoint_id>/edit/",
        webhook_views.webhook_endpoint_edit,
        name="webhook_endpoint_edit",
    ),
    path(
        "brands/<slug:slug>/webhooks/<int:endpoint_id>/rotate-secret/",
        webhook_views.webhook_endpoint_rotate_secret,
        name="webhook_endpoint_rotate_secret",
    ),
    path(
        "brands/<slug:slug>/webhooks/<int:endpoint_id>/active/",
        webhook_views.webhook_endpoint_set_active,
        name="webhook_endpoint_set_active",
    ),
    path(
        "brands/<slug:slug>/webhooks/<int:endpoint_id>/delete/",
        webhook_views.webhook_endpoint_delete,
        name="webhook_endpoint_delete",
    ),
    path(
        "brands/<slug:slug>/webhooks/<int:endpoint_id>/test/",
        webhook_views.webhook_endpoint_ping,
        name="webhook_endpoint_ping",
    ),
]

# Brand billing: balances, top-ups through Stripe Checkout, the statement
from frontend.views import billing  # noqa: E402

urlpatterns += [
    path("brands/<slug:slug>/billing/", billing.brand_billing, name="brand_billing"),
    path(
        "brands/<slug:slug>/billing/top-ups/<int:top_up_id>/cancel/",
        billing.topup_cancel,
        name="topup_cancel",
    ),
]

# Agent payouts: Stripe Connect Express onboarding and the Express dashboard
from frontend.views import payout_account  # noqa: E402

urlpatterns += [
    path("agent/payouts/setup/", payout_account.payout_account_setup, name="payout_account_setup"),
    path(
        "agent/payouts/return/", payout_account.payout_account_return, name="payout_account_return"
    ),
    path(
        "agent/payouts/refresh/",
        payout_account.payout_account_refresh,
        name="payout_account_refresh",
    ),
    path(
        "agent/payouts/dashboard/",
        payout_account.payout_account_dashboard,
        name="payout_account_dashboard",
    ),
]

# Staff console: earnings and clawbacks
from frontend.views import staff_earnings  # noqa: E402

urlpatterns += [
    path("staff/earnings/", staff_earnings.staff_earning_list_page, name="staff_earning_list"),
    path(
        "staff/earnings/<int:earning_id>/",
        staff_earnings.staff_earning_detail,
        name="staff_earning_detail",
    ),
]

# Staff console: pay runs, their lines, and reconciliation with Stripe
from frontend.views import staff_payouts  # noqa: E402

urlpatterns += [
    path("staff/payouts/", staff_payouts.staff_payrun_list, name="staff_payrun_list"),
    path(
        "staff/payouts/reconciliation/",
        staff_payouts.staff_payrun_reconciliation,
        name="staff_payrun_reconciliation",
    ),
    path(
        "staff/payouts/runs/<int:run_id>/",
        staff_payouts.staff_payrun_detail,
        name="staff_payrun_detail",
    ),
    path(
        "staff/payouts/runs/<int:run_id>/approve/",
        staff_payouts.staff_payrun_approve,
        name="staff_payrun_approve",
    ),
    path(
        "staff/payouts/runs/<int:run_id>/execute/",
        staff_payouts.staff_payrun_execute,
        name="staff_payrun_execute",
    ),
    path(
        "staff/payouts/runs/<int:run_id>/cancel/",
        staff_payouts.staff_payrun_cancel,
        name="staff_payrun_cancel",
    ),
    path(
        "staff/payouts/runs/<int:run_id>/lines/<int:line_id>/retry/",
        staff_payouts.staff_payrun_line_retry,
        name="staff_payrun_line_retry",
    ),
    path(
        "staff/payouts/runs/<int:run_id>/lines/<int:line_id>/reverse/",
        staff_payouts.staff_payrun_line_reverse,
        name="staff_payrun_line_reverse",
    ),
]

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

# Staff console: analytics across brands and the platform's own figures
from frontend.views import staff_analytics  # noqa: E402

urlpatterns += [
    path("staff/analytics/", staff_analytics.staff_analytics, name="staff_analytics"),
]

# The weekly digest: its unsubscribe link (signed, no login) and the admin's settings
from frontend.views import digest  # noqa: E402

urlpatterns += [
    path("digest/settings/", digest.digest_settings, name="digest_settings"),
    path("digest/unsubscribe/<str:token>/", digest.digest_unsubscribe, name="digest_unsubscribe"),
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

# Agent assessments: the catalogue, taking an attempt and its result
from frontend.views import assessments as agent_assessment_views  # noqa: E402

urlpatterns += [
    path(
        "agent/assessments/",
        agent_assessment_views.agent_assessments,
        name="agent_assessments",
    ),
    path(
        "agent/assessments/<slug:slug>/",
        agent_assessment_views.agent_assessment_detail,
        name="agent_assessment_detail",
    ),
    path(
        "agent/assessments/<slug:slug>/start/",
        agent_assessment_views.agent_assessment_start,
        name="agent_assessment_start",
    ),
    path(
        "agent/attempts/<int:attempt_id>/",
        agent_assessment_views.agent_attempt,
        name="agent_attempt",
    ),
    path(
        "agent/attempts/<int:attempt_id>/answers/<int:question_id>/",
        agent_assessment_views.agent_answer_save,
        name="agent_answer_save",
    ),
    path(
        "agent/attempts/<int:attempt_id>/submit/",
        agent_assessment_views.agent_attempt_submit,
        name="agent_attempt_submit",
    ),
    path(
        "agent/attempts/<int:attempt_id>/result/",
        agent_assessment_views.agent_attempt_result,
        name="agent_attempt_result",
    ),
]

# Assessments: authoring (staff for the platform's, brand admins for their own) and grading
from frontend.views import assessment_authoring as authoring  # noqa: E402
from frontend.views import assessment_grading as grading  # noqa: E402


def _assessment_paths(prefix: str, route: str) -> list:
    """The authoring pages under ``route`` (staff/ or brands/<slug>/), named ``prefix_…``."""
    pages = [
        ("", "assessment_list"),
        ("new/", "assessment_create"),
        ("import/", "assessment_import"),
        ("<slug:assessment_slug>/", "assessment_detail"),
        ("<slug:assessment_slug>/settings/", "assessment_settings"),
        ("<slug:assessment_slug>/publish/", "assessment_publish"),
        ("<slug:assessment_slug>/versions/<int:number>/export.json", "assessment_export"),
        ("<slug:assessment_slug>/versions/<int:number>/new-draft/", "assessment_new_draft"),
        ("<slug:assessment_slug>/sections/new/", "assessment_section_create"),
        ("<slug:assessment_slug>/sections/<int:section_id>/", "assessment_section_edit"),
        ("<slug:assessment_slug>/sections/<int:section_id>/delete/", "assessment_section_delete"),
        ("<slug:assessment_slug>/sections/<int:section_id>/move/", "assessment_section_move"),
        (
            "<slug:assessment_slug>/sections/<int:section_id>/questions/new/",
            "assessment_question_create",
        ),
        ("<slug:assessment_slug>/questions/<int:question_id>/", "assessment_question_edit"),
        (
            "<slug:assessment_slug>/questions/<int:question_id>/delete/",
            "assessment_question_delete",
        ),
        ("<slug:assessment_slug>/questions/<int:question_id>/move/", "assessment_question_move"),
    ]
    return [
        path(
            f"{route}assessments/{suffix}",
            getattr(authoring, f"{prefix}_{name}"),
            name=f"{prefix}_{name}",
        )
        for suffix, name in pages
    ]


urlpatterns += [
    *_assessment_paths("staff", "staff/"),
    *_assessment_paths("brand", "brands/<slug:slug>/"),
    path("staff/grading/", grading.staff_grading_queue, name="staff_grading_queue"),
    path(
        "staff/grading/<int:answer_id>/", grading.staff_grading_answer, name="staff_grading_answer"
    ),
    path("brands/<slug:slug>/grading/", grading.brand_grading_queue, name="brand_grading_queue"),
    path(
        "brands/<slug:slug>/grading/<int:answer_id>/",
        grading.brand_grading_answer,
        name="brand_grading_answer",
    ),
]

# Required certifications: a gig's, and those to apply to a brand's pool
from frontend.views import certification_requirements  # noqa: E402

urlpatterns += [
    path(
        "brands/<slug:slug>/gigs/<int:gig_id>/certifications/",
        certification_requirements.gig_certification_add,
        name="gig_certification_add",
    ),
    path(
        "brands/<slug:slug>/gigs/<int:gig_id>/certifications/<slug:assessment_slug>/remove/",
        certification_requirements.gig_certification_remove,
        name="gig_certification_remove",
    ),
    path(
        "brands/<slug:slug>/pool/certifications/",
        certification_requirements.pool_certification_add,
        name="pool_certification_add",
    ),
    path(
        "brands/<slug:slug>/pool/certifications/<slug:assessment_slug>/remove/",
        certification_requirements.pool_certification_remove,
        name="pool_certification_remove",
    ),
]

# Assessment results: staff for any assessment, a brand for its own
from frontend.views import assessment_results  # noqa: E402

urlpatterns += [
    path(
        "staff/assessments/<slug:assessment_slug>/results/",
        assessment_results.staff_assessment_results,
        name="staff_assessment_results",
    ),
    path(
        "brands/<slug:slug>/assessments/<slug:assessment_slug>/results/",
        assessment_results.brand_assessment_results,
        name="brand_assessment_results",
    ),
]

# QA scorecards (staff: the platform's, brand: its own) and gig and brand QA settings
from frontend.views import qa_scorecards  # noqa: E402


def _qa_scorecard_paths(prefix: str, route: str) -> list:
    pages = [
        ("", "qa_scorecard_list"),
        ("new/", "qa_scorecard_create"),
        ("<int:scorecard_id>/", "qa_scorecard_detail"),
        ("<int:scorecard_id>/settings/", "qa_scorecard_settings"),
        ("<int:scorecard_id>/categories/new/", "qa_scorecard_category_create"),
        ("<int:scorecard_id>/categories/<int:category_id>/", "qa_scorecard_category_edit"),
        (
            "<int:scorecard_id>/categories/<int:category_id>/delete/",
            "qa_scorecard_category_delete",
        ),
        ("<int:scorecard_id>/categories/<int:category_id>/move/", "qa_scorecard_category_move"),
        ("<int:scorecard_id>/publish/", "qa_scorecard_publish"),
        ("<int:scorecard_id>/new-draft/", "qa_scorecard_new_draft"),
    ]
    return [
        path(
            f"{route}qa/scorecards/{suffix}",
            getattr(qa_scorecards, f"{prefix}_{name}"),
            name=f"{prefix}_{name}",
        )
        for suffix, name in pages
    ]


urlpatterns += [
    *_qa_scorecard_paths("staff", "staff/"),
    *_qa_scorecard_paths("brand", "brands/<slug:slug>/"),
    path(
        "brands/<slug:slug>/gigs/<int:gig_id>/qa/",
        qa_scorecards.gig_qa_settings_page,
        name="gig_qa_settings",
    ),
    path(
        "brands/<slug:slug>/qa/settings/",
        qa_scorecards.brand_qa_settings_page,
        name="brand_qa_settings",
    ),
]

# QA reviews: the review queue, the review page, disputes, and the agent's own QA
from frontend.views import qa_reviews  # noqa: E402


def _qa_review_paths(prefix: str, root: str) -> list:
    pages = [
        ("qa/queue/", "queue"),
        ("qa/assignments/<int:assignment_id>/take/", "take"),
        ("qa/reviews/<int:assignment_id>/", "review"),
        ("qa/reviews/<int:assignment_id>/preview/", "review_preview"),
        ("qa/disputes/", "disputes"),
        ("qa/disputes/<int:dispute_id>/", "dispute"),
    ]
    return [
        path(
            f"{root}{suffix}",
            getattr(qa_reviews, f"{prefix}_qa_{name}"),
            name=f"{prefix}_qa_{name}",
        )
        for suffix, name in pages
    ]


urlpatterns += [
    *_qa_review_paths("staff", "staff/"),
    *_qa_review_paths("brand", "brands/<slug:slug>/"),
    path("agent/qa/", qa_reviews.agent_qa, name="agent_qa"),
    path("agent/qa/reviews/<int:review_id>/", qa_reviews.agent_qa_review, name="agent_qa_review"),
]

# QA calibration: staff sessions, blind scoring by invited reviewers, gold and alignment
from frontend.views import qa_calibration  # noqa: E402

urlpatterns += [
    path(
        "staff/qa/calibration/",
        qa_calibration.staff_qa_calibration_list,
        name="staff_qa_calibration_list",
    ),
    path(
        "staff/qa/calibration/new/",
        qa_calibration.staff_qa_calibration_create,
        name="staff_qa_calibration_create",
    ),
    path(
        "staff/qa/calibration/<int:session_id>/",
        qa_calibration.staff_qa_calibration_detail,
        name="staff_qa_calibration_detail",
    ),
    path(
        "staff/qa/calibration/<int:session_id>/close/",
        qa_calibration.staff_qa_calibration_close,
        name="staff_qa_calibration_close",
    ),
    path(
        "staff/qa/calibration/<int:session_id>/gold/",
        qa_calibration.staff_qa_calibration_gold,
        name="staff_qa_calibration_gold",
    ),
    path(
        "staff/qa/reviewers/<int:user_id>/",
        qa_calibration.staff_qa_reviewer,
        name="staff_qa_reviewer",
    ),
    path("qa/calibration/", qa_calibration.qa_calibration_invites, name="qa_calibration_invites"),
    path(
        "qa/calibration/<int:session_id>/",
        qa_calibration.qa_calibration_session,
        name="qa_calibration_session",
    ),
]

# QA dashboards and the QA CSV export
from frontend.views import qa_dashboards  # noqa: E402

urlpatterns += [
    path("staff/qa/dashboard/", qa_dashboards.staff_qa_dashboard, name="staff_qa_dashboard"),
    path("staff/qa/export.csv", qa_dashboards.staff_qa_export, name="staff_qa_export"),
    path(
        "brands/<slug:slug>/qa/dashboard/",
        qa_dashboards.brand_qa_dashboard,
        name="brand_qa_dashboard",
    ),
    path("brands/<slug:slug>/qa/export.csv", qa_dashboards.brand_qa_export, name="brand_qa_export"),
]

# QA operations: run the tier job and the QA bonus, read tier changes, override a tier
from frontend.views import qa_operations  # noqa: E402

urlpatterns += [
    path("staff/qa/tiers/", qa_operations.staff_qa_tiers, name="staff_qa_tiers"),
    path("staff/qa/bonus/", qa_operations.staff_qa_bonus, name="staff_qa_bonus"),
]

# Brand business hours and holidays, the clock SLA targets count in
from frontend.views import business_hours  # noqa: E402

urlpatterns += [
    path(
        "brands/<slug:slug>/business-hours/",
        business_hours.business_hours,
        name="brand_business_hours",
    ),
    path(
        "brands/<slug:slug>/business-hours/holidays/",
        business_hours.holiday_create,
        name="brand_holiday_add",
    ),
    path(
        "brands/<slug:slug>/business-hours/holidays/<int:holiday_id>/remove/",
        business_hours.holiday_delete,
        name="brand_holiday_remove",
    ),
]

# SLA report: checks, breaches and breach rates per gig and agent, and the breaches as CSV
from frontend.views import sla  # noqa: E402

urlpatterns += [
    path("brands/<slug:slug>/sla/", sla.brand_sla_report, name="brand_sla_report"),
    path("brands/<slug:slug>/sla/export.csv", sla.brand_sla_export, name="brand_sla_export"),
]

# Pool console: the pool's figures with bulk approve, block, set tier and invite
from frontend.views import pool_console  # noqa: E402

urlpatterns += [
    path("brands/<slug:slug>/pool/console/", pool_console.pool_console, name="pool_console"),
    path(
        "brands/<slug:slug>/pool/console/bulk/",
        pool_console.pool_console_bulk,
        name="pool_console_bulk",
    ),
    path(
        "brands/<slug:slug>/pool/console/invite/",
        pool_console.pool_console_invite,
        name="pool_console_invite",
    ),
]

# The agent's own figures against each gig's median
from frontend.views import agent_figures  # noqa: E402

urlpatterns += [
    path("agent/figures/", agent_figures.agent_figures, name="agent_figures"),
]

# Brand analytics: the dashboard over the hourly roll-ups, its table exports and drill-downs
from frontend.views import analytics  # noqa: E402

urlpatterns += [
    path("brands/<slug:slug>/analytics/", analytics.brand_analytics, name="brand_analytics"),
    path(
        "brands/<slug:slug>/analytics/export.csv",
        analytics.brand_analytics_csv,
        name="brand_analytics_csv",
    ),
    path(
        "brands/<slug:slug>/analytics/export.xlsx",
        analytics.brand_analytics_xlsx,
        name="brand_analytics_xlsx",
    ),
    path(
        "brands/<slug:slug>/analytics/tasks/",
        analytics.brand_analytics_tasks,
        name="brand_analytics_tasks",
    ),
]

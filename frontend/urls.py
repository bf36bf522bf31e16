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

"""Work in progress in this session; replaced by the real views."""

from django.http import Http404


def brand_create(request, **kw):
    raise Http404


brand_home = brand_team = member_update = invitation_revoke = api_key_list = brand_create
api_key_revoke = invitation_accept = brand_create

"""Work in progress in this session; replaced by the real views."""

from django.http import Http404


def gig_list(request, **kw):
    raise Http404


gig_create = gig_detail = gig_edit = gig_status = gig_list

"""Work in progress in this session; replaced by the real views."""

from django.http import Http404


def staff_home(request, **kw):
    raise Http404


audit_log = staff_home

"""Work in progress in this session; replaced by the real views."""

from django.http import Http404


def task_list(request, **kw):
    raise Http404


task_create = task_import = task_import_detail = task_detail = task_list

"""Work in progress in this session; replaced by the real views."""

from django.http import Http404


def agent_home(request):
    raise Http404


agent_profile = agent_home

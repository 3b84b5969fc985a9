"""The one decorator every practice page uses: signed in, member of the practice in the URL
(the middleware resolved it, or it is a 404), and holding the page's permission."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from practice.permissions import Perm

PracticeView = Callable[..., HttpResponse]


def practice_view(perm: Perm) -> Callable[[PracticeView], PracticeView]:
    def decorate(view: PracticeView) -> PracticeView:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, practice_slug: str, *args: object, **kwargs: object) -> HttpResponse:
            if getattr(request, "membership", None) is None:
                raise Http404("No such practice.")
            if not request.membership.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.required_perm = perm  # read by the role-matrix test
        return wrapper

    return decorate

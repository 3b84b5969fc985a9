from django.http import HttpRequest

from practice.permissions import Perm
from practice.selectors import memberships_of_user


def practice_context(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    return {
        "practice": getattr(request, "practice", None),
        "membership": membership,
        "Perm": Perm,
        "perms_granted": ({p.name: membership.has_perm(p) for p in Perm} if membership is not None else {}),
        "my_memberships": (
            (lambda: memberships_of_user(user=user)) if user is not None and user.is_authenticated else list
        ),
    }

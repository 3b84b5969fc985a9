"""Practice administration pages (settings, locations, staff, invitations, audit log)."""


def settings_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def location_list_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def location_create_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def location_detail_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def staff_list_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def staff_invite_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def staff_detail_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def staff_deactivate_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def staff_reactivate_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def invitation_revoke_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def invitation_resend_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def audit_log_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land


def audit_log_export_view(request, practice_slug, **kw):
    raise NotImplementedError  # placeholder until the admin pages land

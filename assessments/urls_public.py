"""Public questionnaire link: no practice slug, no login; the token is the credential (only its
sha256 is stored)."""

urlpatterns: list = []

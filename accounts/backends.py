"""The login backend: Django's, loading a citizen's person with the user."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class PortalBackend(ModelBackend):
    """ModelBackend whose user of a session comes with the person, in one query instead of two.

    Every citizen page reads `request.user.person`; loading it with the user saves a round trip on each.
    """

    def get_user(self, user_id):
        """Return the active user `user_id` with the person, or None."""
        user = get_user_model()._default_manager.select_related("person").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None

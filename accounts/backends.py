"""The login backend: Django's, loading a citizen's person with the user."""

from django.contrib.auth.backends import ModelBackend

from . import sql


class PortalBackend(ModelBackend):
    """ModelBackend whose user of a session comes with the person, in one query instead of two.

    Every citizen page reads `request.user.person`; loading it with the user saves a round trip on each, and
    the statement, built once (accounts.sql), saves building it on each.
    """

    def get_user(self, user_id):
        """Return the active user `user_id` with the person, or None."""
        user = sql.user_with_person(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """Django's admin, whose default site asks staff for a second factor (accounts/admin_site.py)."""

    default_site = "accounts.admin_site.PortalAdminSite"

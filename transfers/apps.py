from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransfersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "transfers"
    verbose_name = _("转移接续")
    # Permissions each demo desk gets from `seed_demo`, which reads this attribute of every app. A clerk
    # may hold all three steps: which one they may take on a transfer is decided by the region they serve
    # (the new region accepts and transfers in, the old region transfers out), not by the desk.
    desk_permissions = {
        "reviewer": [
            "view_transferapplication", "add_transferapplication", "accept_transfer", "transfer_out",
            "transfer_in",
        ],
        "approver": ["view_transferapplication"],
    }

    def seed_demo(self):
        """Called by `seed_demo`: a day's transfers on the demo desks. Returns how many were new."""
        from . import demo

        return demo.seed()

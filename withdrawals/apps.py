from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WithdrawalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "withdrawals"
    verbose_name = _("余额提取")
    # Permissions each demo desk gets from `seed_demo`, which reads this attribute of every app and so
    # needs to know nothing of withdrawals. The approver is another person than the reviewer.
    desk_permissions = {
        "reviewer": ["view_withdrawalapplication", "add_withdrawalapplication", "review_withdrawal"],
        "approver": ["view_withdrawalapplication", "approve_withdrawal", "pay_withdrawal"],
    }

    def seed_demo(self):
        """Called by `seed_demo`: a day's withdrawals on the demo desks. Returns how many were new."""
        from . import demo

        return demo.seed()

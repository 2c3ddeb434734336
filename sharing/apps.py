from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SharingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sharing"
    verbose_name = _("家庭共济")
    # Permissions each demo desk gets from `seed_demo` (see withdrawals/apps.py). Refunds move money back
    # and institutions' tokens open the API, so both are the approver's.
    desk_permissions = {
        "reviewer": [
            "view_binding", "bind_at_counter", "end_binding", "view_quotatopup", "view_premiumpayment",
            "view_institution", "view_settlement", "view_settlementpayment",
            "view_misusecase", "decide_misuse", "view_suspension",
        ],
        "approver": [
            "view_binding", "view_institution", "add_institution", "change_institution", "rotate_token",
            "view_settlement", "view_settlementpayment", "refund_settlement",
            "view_misusecase", "view_suspension",
        ],
    }

    def ready(self):
        # Bindings end by themselves when either side's enrolment ends or moves (see sharing/signals.py).
        from . import signals  # noqa: F401
        # The yearly statement names the relative a payment was for.
        from accounts import yearly

        from .statements import beneficiaries

        yearly.register_beneficiaries(beneficiaries)

    def seed_demo(self):
        """Called by `seed_demo`: the demo binding and institution. Returns how many records were new."""
        from . import demo

        return demo.seed()

    def demo_spending(self, months):
        """Called by `seed_demo`: the demo year's pharmacy bills, which it books in date order."""
        from . import demo

        return demo.spending(months)

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = _("账户与登记")

    def ready(self):
        from .models import Notice, PolicyVersion
        from .page_parts import policy_changed
        from .services import notice_saved

        # A citizen's page parts explain credits by the policy versions: a changed version makes them stale.
        post_save.connect(policy_changed, sender=PolicyVersion, dispatch_uid="page-parts-policy-saved")
        post_delete.connect(policy_changed, sender=PolicyVersion, dispatch_uid="page-parts-policy-deleted")
        # The header's unread count is kept in the cache until a notice changes.
        post_save.connect(notice_saved, sender=Notice, dispatch_uid="unread-count-notice-saved")
        post_delete.connect(notice_saved, sender=Notice, dispatch_uid="unread-count-notice-deleted")

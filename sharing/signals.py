"""Keep bindings in step with enrolments: `accounts` knows nothing of sharing, so sharing listens.

The rule itself (which enrolment change or death ends which binding, and what becomes of its quota) lives
in `sharing.bindings`; this module only connects it to the moment an enrolment or a registry record is saved.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Enrolment, Person

from . import bindings


@receiver(post_save, sender=Enrolment, dispatch_uid="sharing.enrolment_saved")
def enrolment_saved(sender, instance, raw=False, **kwargs):
    """End the bindings of a person whose enrolment stopped, closed, was transferred out or changed region."""
    # accounts.services.stop_enrolment and record_transfer_out save the row (not queryset.update()), inside
    # their own transaction: the bindings end in that same transaction, or not at all.
    if raw:
        return
    bindings.end_bindings_after_enrolment_change(person_id=instance.person_id)


@receiver(post_save, sender=Person, dispatch_uid="sharing.person_saved")
def person_saved(sender, instance, created=False, raw=False, **kwargs):
    """End the bindings of a person whose death a clerk has just recorded in the registry."""
    # Every other edit of a registry record leaves bindings alone, so it costs no query.
    if raw or created or instance.died_on is None:
        return
    bindings.end_bindings_after_enrolment_change(person_id=instance.pk)

"""An application's progress as the citizen and staff read it, built from its event log."""

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .models import Event


@dataclass(frozen=True)
class Step:
    at: datetime.datetime
    status: str
    label: str
    who: str
    note: str


def timeline(application):
    """Return the application's steps, oldest first, with Chinese status labels; one query."""
    labels = dict(type(application).Status.choices)
    return [
        Step(
            at=event.created_at,
            status=event.to_status,
            # A status renamed since the event was written still shows, if not by its label.
            label=str(labels.get(event.to_status, event.to_status)),
            who=who_acted(event.actor, application),
            note=event.note,
        )
        for event in Event.objects.for_object(application)
    ]


def who_acted(actor, application):
    """Return how the timeline names the person who made a step."""
    if actor is None:
        return _("系统")
    if actor.person_id is not None and actor.person_id == application.applicant_id:
        return _("本人")
    if actor.is_staff:
        return _("经办人员 %(name)s") % {"name": actor.first_name or actor.get_username()}
    return _("其他用户")

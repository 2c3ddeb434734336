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


def timeline(application, *, names=False):
    """Return the application's steps, oldest first, with Chinese status labels; one query.

    Citizens see roles only (本人, 代办, 经办人员, 系统); `names=True` adds who it was, for staff pages.
    """
    labels = dict(type(application).Status.choices)
    return [
        Step(
            at=event.created_at,
            status=event.to_status,
            # A status renamed since the event was written still shows, if not by its label.
            label=str(labels.get(event.to_status, event.to_status)),
            who=who_acted(event.actor, application, names=names),
            note=event.note,
        )
        for event in Event.objects.for_object(application)
    ]


def who_acted(actor, application, *, names=False):
    """Return how the timeline names the person who made a step: a role, and with `names` who it was."""
    if actor is None:
        return _("系统")
    if actor.person_id is not None and actor.person_id == application.applicant_id:
        return _("本人")
    # A clerk's name or login is not for citizens: it invites calls to the person instead of the office.
    role = _("经办人员") if actor.is_staff else _("代办")
    if not names:
        return role
    return _("%(role)s %(name)s") % {"role": role, "name": actor.get_full_name() or actor.display_name}


def due_dates(*pairs):
    """Return the (label, date) pairs that have a date: the deadlines the timeline template lists."""
    return [(label, day) for label, day in pairs if day is not None]

"""The one routine that moves an application from one status to another."""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Event


class TransitionError(Exception):
    """A move was refused; `message` is shown to the person who asked."""

    code = "transition_refused"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class NotAllowed(TransitionError):
    code = "not_allowed"


class NoPermission(TransitionError):
    code = "no_permission"


class AlreadyHandled(TransitionError):
    code = "already_handled"


def transition(*, application, to, actor, note="", permission=None, changes=None):
    """Move `application` to status `to`, recording who did it, and return the new Event.

    `permission` is the Django permission the actor needs (None for the citizen's own steps,
    whose ownership the caller has checked). `changes` are further fields written in the same
    conditional update, such as `submitted_at`.
    """
    model = type(application)
    current = application.status
    if to not in model.TRANSITIONS.get(current, ()):
        raise NotAllowed(
            _("当前状态为“%(from)s”，不能办理“%(to)s”。")
            % {"from": model.Status(current).label, "to": model.Status(to).label}
        )
    if permission and not (actor and actor.has_perm(permission)):
        raise NoPermission(_("您没有办理此项业务的权限。"))
    changes = dict(changes or {})
    changes["next_due"] = application.deadline_in(to, changes)
    with transaction.atomic():
        # The condition on the old status makes two clerks clicking at once safe: one update wins.
        updated = model.objects.filter(pk=application.pk, status=current).update(status=to, **changes)
        if not updated:
            raise AlreadyHandled(_("该申请已被他人办理或状态已变化，请刷新页面后查看。"))
        event = Event.objects.create(
            content_type=ContentType.objects.get_for_model(model),
            object_id=application.pk,
            from_status=current,
            to_status=to,
            actor=actor,
            note=note,
            created_at=timezone.now(),
        )
    application.status = to
    for field, value in changes.items():
        setattr(application, field, value)
    return event


def record_creation(*, application, actor, note=""):
    """Append the first event of a new application (from nothing to its initial status)."""
    return Event.objects.create(
        content_type=ContentType.objects.get_for_model(type(application)),
        object_id=application.pk,
        from_status="",
        to_status=application.status,
        actor=actor,
        note=note,
    )


def step_no_longer_open(application):
    """Return the refusal of a decision page whose step the application's status no longer offers.

    Most often the clerk pressed the button twice or a colleague was quicker: the admin's 403 page says so.
    """
    return PermissionDenied(
        _("这笔申请现在的状态是“%(status)s”，这一步已不能办理。如果您刚刚点过这个按钮，它已经办理完成，无需再办。")
        % {"status": application.get_status_display()}
    )

"""What every decision on the review desk may ask for: a note the applicant reads."""

from django import forms
from django.utils.translation import gettext_lazy as _


class NoteForm(forms.Form):
    # Whatever is written here appears in the applicant's progress timeline.
    note = forms.CharField(
        label=_("给申请人的说明（申请人可在办理进度中看到）"), required=False, max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("可不填。最多200字；内部意见请勿写在这里。"),
        error_messages={"max_length": _("说明最多200字，请精简。")},
    )

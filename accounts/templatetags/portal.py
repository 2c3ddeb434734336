"""Template filters for money and personal data on the citizen pages."""

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

from accounts import identity

register = template.Library()


@register.filter
def yuan(amount):
    """Format a Decimal amount as ¥2,000.00, a negative one as -¥12.00."""
    if amount is None or amount == "":
        return ""
    # Decimal(str(...)) so that an int or a string from a template never passes through float.
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    sign = "-" if value < 0 else ""
    return f"{sign}¥{abs(value):,.2f}"


@register.filter
def signed_yuan(amount):
    """Format an amount with its sign always shown: +¥160.00, -¥12.00."""
    formatted = yuan(amount)
    if formatted and not formatted.startswith("-"):
        return "+" + formatted
    return formatted


@register.filter
def mask_id(value):
    """Show an ID number as 330203********1238."""
    return identity.mask_id_number(value)


@register.filter
def mask_name(value):
    """Show a name as its family name only: 张*."""
    return identity.mask_name(value)


@register.filter
def mask_phone(value):
    """Show a phone number with only its last four digits: *******5678."""
    return identity.mask_digits(value, keep=4)


@register.simple_tag(takes_context=True)
def page_url(context, number):
    """Return the current query string with `page` set, so filters survive paging."""
    query = context["request"].GET.copy()
    query["page"] = number
    return "?" + query.urlencode()


@register.filter
def duration_zh(value):
    """Say a timedelta in Chinese hours and minutes: 1小时, 30分钟, 1小时30分钟."""
    if not value:
        return ""
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    parts = [_("%(count)d小时") % {"count": hours}] if hours else []
    if minutes or not hours:
        parts.append(_("%(count)d分钟") % {"count": minutes})
    return "".join(parts)


@register.filter
def years_months(months):
    """Show a number of months as years and months: 10年2个月 (12 months are a year)."""
    years, rest = divmod(int(months or 0), 12)
    if not years:
        return _("%(months)d个月") % {"months": rest}
    if not rest:
        return _("%(years)d年") % {"years": years}
    return _("%(years)d年%(months)d个月") % {"years": years, "months": rest}

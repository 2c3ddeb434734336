"""Who may see an application and its materials: the applicant, or permitted staff of a region it concerns."""

from accounts.scoping import passed_second_factor, regions_of


def is_applicant(user, application):
    """Return whether `user` is the citizen the application belongs to."""
    return user.is_active and user.person_id is not None and application.applicant_id == user.person_id


def regions_concerned(application):
    """Return the ids of the regions whose staff handle the application.

    An application names the region it was lodged with; one that two regions handle (a transfer: the
    region it leaves and the region it joins) says so with a `regions_concerned()` method of its own.
    """
    own = getattr(application, "regions_concerned", None)
    return list(own()) if own is not None else [application.region_id]


def is_reviewing_staff(user, application):
    """Return whether `user` is staff of a region the application concerns who may view such applications."""
    if not (user.is_active and user.is_staff and passed_second_factor(user)):
        return False
    opts = application._meta
    if not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
        return False
    return user.is_superuser or regions_of(user).filter(pk__in=regions_concerned(application)).exists()


def can_view_application(user, application):
    """Return whether `user` may see the application, its timeline and its materials."""
    if not user.is_authenticated:
        return False
    return is_applicant(user, application) or is_reviewing_staff(user, application)

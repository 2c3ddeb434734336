"""Delete stored material files that no Material row refers to.

add_material deletes its file when its own transaction fails, but when a caller's outer transaction
rolls back after it, the file stays behind with no row: Django has no hook for a rollback.
"""

import datetime

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.utils import timezone

from review.models import Material

ROOT = "materials"


class Command(BaseCommand):
    help = "Delete material files older than --min-age-hours that no Material row refers to."

    def add_arguments(self, parser):
        parser.add_argument("--min-age-hours", type=int, default=24)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, min_age_hours, dry_run, **options):
        # An upload in progress has its file before its row is committed: leave young files alone.
        cutoff = timezone.now() - datetime.timedelta(hours=min_age_hours)
        known = set(Material.objects.values_list("file", flat=True))
        orphans = [
            name for name in stored_files(ROOT)
            if name not in known and default_storage.get_modified_time(name) < cutoff
        ]
        for name in orphans:
            if not dry_run:
                default_storage.delete(name)
            self.stdout.write(name)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{verb} {len(orphans)} orphaned file(s)")


def stored_files(folder):
    """Yield every file name under `folder` in the default storage."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from stored_files(f"{folder}/{sub}")

"""The sharing desk: bindings (and their premiums and quotas) and the institution side (settlements, misuse)."""

from . import bindings, institutions  # noqa: F401  (each module registers its ModelAdmins)

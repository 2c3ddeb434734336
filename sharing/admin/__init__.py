"""The sharing desk: bindings, with their quota top-ups and the premiums paid for relatives."""

from . import bindings  # noqa: F401  (registers its ModelAdmins)

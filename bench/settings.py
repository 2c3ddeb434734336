"""The production settings plus one bare view to compare against; used only by `bench/run.py`.

Production never loads this module, so it has no benchmark endpoint.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

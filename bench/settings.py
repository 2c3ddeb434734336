"""The production settings plus one bare view to compare against and a query count per answer; used only by the
benchmarks in `bench/`.

Production never loads this module, so it has neither the benchmark endpoint nor the header.
"""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

ROOT_URLCONF = "bench.urls"
# Outermost, so that it counts every statement of the request, the session's and the login's included.
MIDDLEWARE = ["bench.queries.QueryCountMiddleware", *MIDDLEWARE]

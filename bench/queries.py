"""Count the SQL statements of each request and send the count back in a header; bench settings only."""

from django.db import connection

HEADER = "X-Bench-Queries"


class QueryCountMiddleware:
    """Add `X-Bench-Queries: <n>`: how many statements the request ran, whatever the page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counted(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            response = self.get_response(request)
        response[HEADER] = str(count)
        return response

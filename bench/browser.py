"""A minimal browser for the benchmarks: keeps cookies by hand and never follows a redirect."""

import re
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Browser:
    """One visitor of the portal at `base`, with its own cookies."""

    def __init__(self, base):
        self.base = base
        # By hand: production settings mark cookies Secure, which a cookie jar keeps from plain HTTP.
        self.cookies = {}
        self.opener = urllib.request.build_opener(NoRedirect())

    def open(self, path, data=None, headers=None):
        """Request `path` with the cookies; keep the cookies it sets; return the response (or the error)."""
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        request = urllib.request.Request(f"{self.base}{path}", data=data, headers={**(headers or {}), "Cookie": cookie})
        try:
            response = self.opener.open(request)
        except urllib.error.HTTPError as error:
            response = error
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _equals, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    def post_form(self, path, fields):
        """GET the form at `path` for its CSRF token, POST `fields` with it; return the answer."""
        page = self.open(path).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        return self.open(path, data, {"Referer": f"{self.base}{path}"})

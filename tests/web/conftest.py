"""Helpers for the pages' tests: CSRF is on, as in production, and forms are filled the way a browser does."""
from __future__ import annotations

from html import unescape
import re

import pytest

from tests.conftest import PASSWORD


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def errors_in(page: str) -> list[str]:
    """The messages a person reads next to fields and above the form."""
    field = re.findall(r'class="field__error"[^>]*>([^<]+)<', page)
    alert = re.findall(r'class="alert alert--error"[^>]*>\s*<p>([^<]+)</p>', page)
    return [unescape(m.strip()) for m in alert + field]


class Browser:
    """A test client that reads each page's CSRF token before sending its form, like a browser would."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def submit(self, page_url: str, data: dict, action: str | None = None, **kw):
        page = self.client.get(page_url)
        assert page.status_code == 200, page.status_code
        return self.client.post(action or page_url, data={"csrf_token": csrf_from(page.text)} | data, **kw)

    def sign_in(self, email: str, password: str = PASSWORD):
        response = self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 302, errors_in(response.text)
        return response


@pytest.fixture
def browser(client):
    return Browser(client)

"""Browser fixtures for every module here: the Chromium context is test_browser.py's."""

from tests.web.test_browser import browser_context  # noqa: F401 (a fixture, found by name)

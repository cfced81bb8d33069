# The Chromium fixture of the learner-journey test, shared with the other browser tests here.
from tests.web.test_browser import browser_context  # noqa: F401

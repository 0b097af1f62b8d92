"""How long tests wait for a condition: the usual wait times TRIPTYCH_TEST_PATIENCE (default 3).

Waits end as soon as their condition holds, so a generous limit costs nothing on an idle machine
and keeps a loaded one (other processes busy on the cores) from failing tests that would pass;
what the tests assert is unchanged. Issue 17, item 10.
"""

import os

PATIENCE = max(1.0, float(os.environ.get("TRIPTYCH_TEST_PATIENCE", "3")))


def patient(limit: float) -> float:
    """A wait limit (milliseconds for Playwright, seconds elsewhere) stretched for a loaded machine."""
    return limit * PATIENCE

"""schemathesis against the service's OpenAPI schema: generated requests never get a 5xx.

Every operation is exercised anonymously and with an administrator's bearer token (which reaches the logged
checks, reports and replay), a bounded number of examples each; the log holds one real check so the
``/checks/{seq}`` paths have something to find.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from engine.run import Checker  # noqa: E402
from engine.service import Settings, create_app  # noqa: E402
from engine.service.checking import Upload  # noqa: E402
from engine.service.core import Service  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
STATE: dict[str, Any] = {}


def _app() -> Any:
    """The app with one logged check and an administrator's token (built once, at collection)."""
    import tempfile

    svc = Service(Settings(data_dir=Path(tempfile.mkdtemp(prefix="chanjiao-schema-")), engine="reference"),
                  checker=Checker())
    svc.accounts.add("boss", "admin", "correct horse battery")
    STATE["auth"] = {"Authorization": f"Bearer {svc.accounts.new_token('boss')}"}
    path = EXAMPLES / "tonghua-self-assessment.json"
    svc.check(Upload(path.name, path.read_bytes()), as_of=dt.date(2021, 12, 31), user=svc.accounts.get("boss"))
    return create_app(svc.settings, service=svc)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error])
    case.call_and_validate(headers=STATE["auth"], checks=[not_a_server_error])

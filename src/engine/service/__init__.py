"""``chanjiao serve``: the web API, the Chinese web pages, officer accounts and the tamper-evident decision log.

``create_app(Settings(...))`` builds the FastAPI application (packs loaded once through ``engine.run.Checker``,
the database migrated); ``uvicorn`` serves it. See the README's "Web service" section. The web stack is
imported on first use, so ``chanjiao check`` does not pay for it.
"""

from __future__ import annotations

from typing import Any

from engine.service.settings import Settings, default_data_dir

__all__ = ["create_app", "Settings", "default_data_dir"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from engine.service.app import create_app

        return create_app
    raise AttributeError(name)

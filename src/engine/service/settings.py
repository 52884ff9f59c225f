"""Where the service keeps its data and how it runs: one :class:`Settings` value, passed to ``create_app``.

With no database URL the service uses an embedded SQLite file in the data directory, so it needs no other
service: ``$CHANJIAO_DATA`` if set, else ``$XDG_DATA_HOME/chanjiao``, else ``~/.local/share/chanjiao``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """The data directory: ``$CHANJIAO_DATA``, else ``$XDG_DATA_HOME/chanjiao``, else ``~/.local/share/chanjiao``."""
    if os.environ.get("CHANJIAO_DATA"):
        return Path(os.environ["CHANJIAO_DATA"])
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]) / "chanjiao"
    return Path.home() / ".local" / "share" / "chanjiao"


@dataclass(frozen=True)
class Settings:
    """How one service instance runs.

    ``database_url`` is an SQLAlchemy URL (``postgresql://…`` or ``sqlite:///…``); None means
    ``sqlite:///<data_dir>/chanjiao.db``. ``rules`` are extra pack folders (as ``chanjiao check --rules``).
    Uploads above ``job_threshold_bytes`` run as background jobs; above ``max_upload_bytes`` they are refused.
    """

    database_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    rules: tuple[Path, ...] = ()
    engine: str = "auto"
    max_upload_bytes: int = 64 * 1024 * 1024
    max_unzipped_bytes: int = 512 * 1024 * 1024
    job_threshold_bytes: int = 2 * 1024 * 1024
    session_hours: int = 8
    secure_cookies: bool = False

    def url(self) -> str:
        """The database URL in force (the SQLite default created in the data directory)."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):  # psycopg 3 is the driver
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://"):]
            return url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'chanjiao.db'}"

"""A progress line for runs that take a while: shown on a terminal only once a run has lasted ``delay`` seconds."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["SlowRunStatus"]


class SlowRunStatus:
    """``with SlowRunStatus("判定中"):`` shows a spinner with the elapsed time on stderr after ``delay`` seconds,
    and nothing for a quick run or when stderr is not a terminal (``enabled=False`` turns it off)."""

    def __init__(self, message: str, *, delay: float = 2.0, enabled: bool | None = None, stream: Any = None):
        self.message, self.delay = message, delay
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.shown = False

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        from rich.console import Console

        console = Console(file=self.stream, force_terminal=self.stream.isatty() or None)
        start = time.monotonic() - self.delay
        self.shown = True
        with console.status(self.message) as status:
            while not self._stop.wait(0.25):
                status.update(f"{self.message}（已用 {time.monotonic() - start:.0f} 秒）")

    def __enter__(self) -> "SlowRunStatus":
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

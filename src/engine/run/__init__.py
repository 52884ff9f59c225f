"""Running checks: the library entry point (:class:`Checker`), streamed and Dask checks, live re-evaluation."""

from engine.run.checker import (AUTO_THRESHOLD_BYTES, CheckResult, Checker, ENGINE_CHOICES)

__all__ = ["AUTO_THRESHOLD_BYTES", "CheckResult", "Checker", "ENGINE_CHOICES"]

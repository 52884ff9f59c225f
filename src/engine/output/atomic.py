"""All-or-nothing output files.

Every file a run writes is first written under a temporary name in the same folder (``.NAME.partial-<pid>-<token>``,
hidden and never mistaken for a finished output) and renamed onto its real name only when the whole run has
succeeded; a run that fails or is interrupted removes its temporary files and leaves any previous output intact.
A run killed outright (SIGKILL) cannot clean up: it leaves only ``.partial`` files, never a complete-looking one.

:class:`OutputSet` is the one way the writers do this; :func:`refuse_overwriting_inputs` keeps ``--output`` off
the input files; :func:`die_with_parent` makes a worker process end when the process that started it ends.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Iterable

from engine.errors import FatalError
from engine.messages import msg

__all__ = ["OutputSet", "PARTIAL_MARK", "refuse_overwriting_inputs", "require_folder", "die_with_parent", "terminate_on_sigterm"]

PARTIAL_MARK = ".partial-"


class OutputSet:
    """A set of output files written under temporary names and renamed together when the run succeeds.

    >>> with OutputSet() as outs:
    ...     tmp = outs.path(Path("out.csv"))      # write to tmp
    ...     tmp.write_text("...")
    # on leaving the block without an exception, tmp becomes out.csv; with one, tmp is removed

    ``last`` files (e.g. a summary that states completeness) are renamed after all the others.
    """

    def __init__(self) -> None:
        self._token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._pending: list[tuple[Path, Path, bool]] = []

    def path(self, final: Path, *, last: bool = False) -> Path:
        """The temporary path to write instead of ``final`` (in the same folder, so the rename is atomic)."""
        final = Path(final)
        require_folder(final)
        tmp = final.with_name(f".{final.name}{PARTIAL_MARK}{self._token}")
        self._pending.append((tmp, final, last))
        return tmp

    def commit(self) -> None:
        """Rename every temporary file onto its final name (the ``last`` ones after the others)."""
        for want_last in (False, True):
            for tmp, final, last in self._pending:
                if last is want_last and tmp.exists():
                    _replace(tmp, final)
        self._pending.clear()

    def discard(self) -> None:
        """Remove every temporary file; the final names are left as they were."""
        for tmp, _, _ in self._pending:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
        self._pending.clear()

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


def _replace(tmp: Path, final: Path) -> None:
    """``os.replace``, also for a directory onto an existing one (moved aside first, then removed)."""
    if tmp.is_dir() and final.is_dir():
        import shutil

        aside = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
        os.replace(final, aside)
        os.replace(tmp, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def require_folder(output: Path) -> None:
    """Raise FatalError (one line) when the folder an output is to be written into does not exist."""
    folder = Path(output).parent
    if not folder.is_dir():
        raise FatalError(msg("output.no_folder", path=output, folder=folder))


def refuse_overwriting_inputs(outputs: Iterable[Path], dataset: Path) -> None:
    """Raise FatalError when an output path is the dataset file, a file inside the dataset folder, or the folder."""
    dataset = Path(dataset)
    inputs = [dataset]
    if dataset.is_dir():
        inputs += [f for f in dataset.iterdir() if f.is_file()]
    for out in outputs:
        out = Path(out)
        for inp in inputs:
            if _same(out, inp) or (not out.exists() and out.resolve() == inp.resolve()):
                raise FatalError(msg("output.is_input", out=out, inp=inp))


def die_with_parent() -> None:
    """In a worker process: ask Linux to send SIGKILL when the parent process ends (prctl PR_SET_PDEATHSIG), and
    leave interruptions to the parent: Ctrl-C (sent to the whole process group) is ignored here and SIGTERM ends the
    worker at once, without the parent's handler (a forked worker inherits it) and so without a traceback.

    Off Linux only the signals are reset; the pool's pipes still end a worker whose parent is gone.
    """
    for sig, action in ((signal.SIGINT, signal.SIG_IGN), (signal.SIGTERM, signal.SIG_DFL)):
        try:
            signal.signal(sig, action)
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1:  # the parent died before the call took effect
            os._exit(1)
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        pass


def terminate_on_sigterm() -> None:
    """Make SIGTERM (and SIGHUP) unwind like Ctrl-C, so the run's temporary files are removed on the way out."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):  # not the main thread
                pass

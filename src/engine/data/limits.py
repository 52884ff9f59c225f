"""Resource limits on input: documented defaults, raised by the user with ``--limit NAME=VALUE``.

A hostile or broken file must not take unbounded memory or time: a few hundred bytes of YAML aliases must not
become gigabytes, a zip bomb must not be unpacked, a FIFO must not block the run forever. Every reader checks
its input against one :class:`Limits` value (frozen; the caller owns it — there is no global setting), and a
refusal is a :class:`~engine.errors.FatalError` of one line, Chinese first, naming the limit and the option that
raises it.

=======================  ===========  =========================================================================
name                     default      bounds
=======================  ===========  =========================================================================
``file_size``            1 GiB        a file read whole (JSON, YAML, XLSX, a CSV file read without streaming)
``xlsx_unzipped``        1 GiB        the declared uncompressed size of every part of an XLSX workbook together
``xlsx_cells``           20,000,000   cells read from a workbook, all sheets together
``csv_columns``          1,000        columns of a CSV header or row
``line_length``          1 MiB        bytes of one line of a CSV file or of a ``watch`` change line
``nesting``              32           nesting depth of a JSON/YAML document (deeper: that record is rejected)
``yaml_alias_nodes``     100,000      nodes a YAML document's aliases (``*name``) may add when expanded
=======================  ===========  =========================================================================
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FatalError
from engine.messages import msg

__all__ = ["Limits", "DEFAULT_LIMITS", "parse_limits", "limit_error", "check_regular_file", "check_file_size",
           "check_line_lengths", "check_columns", "check_xlsx_archive", "check_csv_file", "check_input", "check_stream_file", "LIMIT_NAMES"]


@dataclass(frozen=True)
class Limits:
    """The resource limits a run applies to its input; ``DEFAULT_LIMITS`` holds the documented defaults."""

    file_size: int = 1 << 30
    xlsx_unzipped: int = 1 << 30
    xlsx_cells: int = 20_000_000
    csv_columns: int = 1_000
    line_length: int = 1 << 20
    nesting: int = 32
    yaml_alias_nodes: int = 100_000


DEFAULT_LIMITS = Limits()
LIMIT_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Limits))

_BYTES = {"file_size", "xlsx_unzipped", "line_length"}
_SUFFIX = {"": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
           "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40}


def _show(name: str, value: int) -> str:
    if name in _BYTES:
        for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value >= size and value % size == 0:
                return f"{value // size} {unit}"
        return f"{value:,} B"
    return f"{value:,}"


def limit_error(where: str, name: str, limits: Limits, found: str = "") -> FatalError:
    """The one-line refusal of input over limit ``name``: the limit, its value, and how to raise it."""
    return FatalError(msg("limit.over", where=where, label=msg(f"limit.label.{name}"), name=name,
                          value=_show(name, getattr(limits, name)), found=msg("limit.found", found=found) if found else ""))


def parse_limits(items: list[str] | None, base: Limits = DEFAULT_LIMITS) -> Limits:
    """``NAME=VALUE`` items (``--limit``) applied to ``base``; sizes may end in K, M, G or T (binary units)."""
    changes: dict[str, int] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in LIMIT_NAMES:
            raise FatalError(msg("limit.unknown", item=item, names=", ".join(LIMIT_NAMES)))
        m = re.fullmatch(r"\s*(\d[\d_]*)\s*([A-Za-z]*)\s*", text)
        factor = _SUFFIX.get(m.group(2).upper()) if m else None
        if m is None or factor is None or int(m.group(1)) * factor <= 0:
            raise FatalError(msg("limit.bad_value", item=item))
        changes[name] = int(m.group(1)) * factor
    return dataclasses.replace(base, **changes)


def check_regular_file(path: Path) -> os.stat_result:
    """Refuse a FIFO, device, socket or other non-regular file (reading one could block or never end)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FatalError(msg("file.unreadable", path=path, reason=exc.strerror)) from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("FIFO" if stat.S_ISFIFO(st.st_mode) else "device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "socket" if stat.S_ISSOCK(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode) else "special file")
        raise FatalError(msg("limit.not_regular", path=path, kind=kind))
    return st


def check_file_size(path: Path, limits: Limits) -> None:
    """A regular file no larger than ``limits.file_size``."""
    st = check_regular_file(path)
    if st.st_size > limits.file_size:
        raise limit_error(str(path), "file_size", limits, _show("file_size", st.st_size))


def check_line_lengths(data: bytes, limits: Limits, where: str, first_line: int = 1) -> None:
    """No line of ``data`` longer than ``limits.line_length`` bytes (scanned in slices: memory stays small);
    the refusal names ``where:line``, counting ``data``'s first line as ``first_line``."""
    if len(data) <= limits.line_length:
        return
    import numpy as np

    step = 1 << 26
    start = 0  # offset of the current line's first byte
    lines = first_line - 1  # lines before the current one
    view = memoryview(data)
    for base in range(0, len(data), step):
        ends = np.flatnonzero(np.frombuffer(view[base:base + step], dtype=np.uint8) == 10) + base
        if len(ends):
            lengths = np.diff(np.concatenate(([start - 1], ends))) - 1
            over = np.flatnonzero(lengths > limits.line_length)
            if len(over):  # the first over-long line
                first = int(over[0])
                raise limit_error(f"{where}:{lines + first + 1}", "line_length", limits,
                                  f"{int(lengths[first]):,} B")
            lines += len(ends)
            start = int(ends[-1]) + 1
    if len(data) - start > limits.line_length:
        raise limit_error(f"{where}:{lines + 1}", "line_length", limits, f"{len(data) - start:,} B")


def check_columns(count: int, limits: Limits, where: str) -> None:
    """A CSV header or row of at most ``limits.csv_columns`` cells."""
    if count > limits.csv_columns:
        raise limit_error(where, "csv_columns", limits, f"{count:,}")


def check_xlsx_archive(path: Path, limits: Limits) -> None:
    """The parts of an XLSX workbook, unpacked, within ``limits.xlsx_unzipped`` (a zip bomb is never unpacked).

    The declared sizes are an upper bound of what the zip reader will inflate (it stops there and checks the CRC).
    A file that is not a zip archive is left for the workbook reader to reject in its own words.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(max(0, i.file_size) for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    if total > limits.xlsx_unzipped:
        raise limit_error(str(path), "xlsx_unzipped", limits, _show("xlsx_unzipped", total))


def check_csv_file(path: Path, limits: Limits) -> None:
    """A CSV file's lines within ``limits.line_length`` and its header within ``limits.csv_columns``, read in
    slices (a file far larger than memory is refused without being read whole)."""
    import csv

    step = 1 << 26
    carry = b""
    header: bytes | None = None
    line = 1
    with open(path, "rb") as fh:
        while True:
            block = fh.read(step)
            data = carry + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            check_line_lengths(data[:cut], limits, str(path), first_line=line)
            if header is None and (cut or not block):
                header = data[:cut].split(b"\n", 1)[0]
            line += data.count(b"\n", 0, cut)
            carry = data[cut:]
            if len(carry) > limits.line_length:
                raise limit_error(f"{path}:{line}", "line_length", limits, f"> {len(carry):,} B")
            if not block:
                break
    if header:
        text = header.decode("utf-8", "replace").lstrip("\ufeff")
        try:
            count = len(next(csv.reader(io.StringIO(text, newline="")), []))
        except csv.Error:  # malformed: the reader says so in its own words; bound the columns by the commas
            count = text.count(",") + 1
        check_columns(count, limits, f"{path}:1")


def check_input(path: Path, limits: Limits) -> None:
    """Every file a dataset reader would read whole: regular, within ``file_size``; a CSV file's lines and
    columns and an XLSX workbook's unpacked size within their limits."""
    files = sorted(f for f in path.iterdir() if f.suffix.lower() == ".csv") if path.is_dir() else [path]
    for f in files:
        check_file_size(f, limits)
        suffix = f.suffix.lower()
        if suffix == ".csv":
            check_csv_file(f, limits)
        elif suffix in (".xlsx", ".xlsm"):
            check_xlsx_archive(f, limits)


def check_stream_file(path: Path, limits: Limits) -> None:
    """A file the streamed check reads in batches (any size): regular, and for CSV a header line within
    ``line_length`` and ``csv_columns`` (read alone, never the whole file)."""
    import csv

    check_regular_file(path)
    if path.suffix.lower() != ".csv":
        return
    with open(path, "rb") as fh:
        first = fh.readline(limits.line_length + 2)
    if len(first.rstrip(b"\r\n")) > limits.line_length:
        raise limit_error(f"{path}:1", "line_length", limits, f"> {limits.line_length:,} B")
    text = first.decode("utf-8", "replace").lstrip("\ufeff")
    try:
        count = len(next(csv.reader(io.StringIO(text, newline="")), []))
    except csv.Error:
        count = text.count(",") + 1
    check_columns(count, limits, f"{path}:1")

"""Tax periods: decide only the records dated in a period, and list the others as warnings.

``--period 2021`` is the tax year 2021-01-01..2021-12-31; ``2021Q3`` a quarter. A record type is *dated* when a rule
takes its reference date from one of its own fields (``scope.date: subject.paid_on``): internship payments,
practice expenses and certificates in the shipped packs. Such a record dated outside the period — or after the
evaluation date, which can never be decided as of that date — is not decided: it is listed in ``warnings`` and in
no total. Records of other types are kept whole.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields

from engine.errors import FatalError, RecordWarning
from engine.messages import msg
from engine.language.expressions import Attr, Name
from engine.policy.packs import Pack
from engine.data.records import Dataset

__all__ = ["Period", "parse_period", "dated_fields", "restrict_to_period", "default_as_of"]

_PERIOD = re.compile(r"^(\d{4})(?:[Qq]([1-4]))?$")


@dataclass(frozen=True)
class Period:
    """A closed range of days: a tax year or a quarter."""

    start: dt.date
    end: dt.date
    label: str

    def as_dict(self) -> dict[str, str]:
        """The document's ``period`` object."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    def __contains__(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def parse_period(text: str) -> Period:
    """``2021`` (a tax year) or ``2021Q3`` (a quarter); FatalError otherwise."""
    m = _PERIOD.match(text.strip())
    if not m or not 1 <= int(m.group(1)) <= 9998:
        raise FatalError(msg("period.bad", text=text))
    year = int(m.group(1))
    if m.group(2) is None:
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), str(year))
    q = int(m.group(2))
    start = dt.date(year, 3 * q - 2, 1)
    end = (dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)) - dt.timedelta(days=1)
    return Period(start, end, f"{year}Q{q}")


def dated_fields(packs: list[Pack]) -> dict[str, str]:
    """Record type → the field its rules take their reference date from (``scope.date: subject.FIELD``)."""
    out: dict[str, str] = {}
    for pack in packs:
        for rule in pack.rules:
            node = rule.date.node
            if isinstance(node, Attr) and isinstance(node.obj, Name) and node.obj.name == "subject":
                out.setdefault(rule.subject, node.name)
    return out


def restrict_to_period(dataset: Dataset, packs: list[Pack], period: Period | None, as_of: dt.date) -> Dataset:
    """A copy of ``dataset`` without the dated records outside ``period`` or after ``as_of``, each listed as a
    warning; without a period only the records dated after ``as_of`` are listed (and still decided)."""
    dated = dated_fields(packs)
    warnings: list[RecordWarning] = []
    records = {t: list(rs) for t, rs in dataset.records.items()}
    for rtype, fld in dated.items():
        kept = []
        for rec in records.get(rtype, []):
            day = getattr(rec, fld, None)
            row = dataset.rows.get((rtype, rec.id))
            if not isinstance(day, dt.date):
                kept.append(rec)
                continue
            if period is not None and day not in period:
                warnings.append(RecordWarning(msg("period.outside", field=fld, day=day.isoformat(),
                                                  start=period.start.isoformat(), end=period.end.isoformat()),
                                              rtype, row, rec.id, fld))
                continue
            if day > as_of:
                key = "period.after_as_of" if period is not None else "period.after_as_of_kept"
                warnings.append(RecordWarning(msg(key, field=fld, day=day.isoformat(), as_of=as_of.isoformat()),
                                              rtype, row, rec.id, fld))
                if period is not None:
                    continue
            kept.append(rec)
        records[rtype] = kept
    if not warnings:
        return dataset
    # a new dataset (its look-up indexes are built afresh), keeping every other field as the loader left it
    keep = {f.name: getattr(dataset, f.name) for f in fields(dataset) if f.init and not f.name.startswith("_")}
    return Dataset(**{**keep, "records": records, "rows": dict(dataset.rows), "errors": list(dataset.errors),
                      "warnings": list(dataset.warnings) + warnings})


def default_as_of(period: Period | None, today: dt.date) -> dt.date:
    """The evaluation date a run with ``period`` and no ``--as-of`` uses: the period's last day."""
    return period.end if period is not None else today




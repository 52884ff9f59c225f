"""The versioned web API (``/api/v1``): checks, explanations, rules, parameters, sources, the logged checks.

Anonymous callers may check and explain (nothing is stored); officer endpoints need a bearer token
(``chanjiao users token NAME``) and show each role the checks it may see (an administrator sees all).
An officer's check is appended to the decision log; above the job threshold it runs as a job (202 + poll).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from engine.messages import localise, msg, render
from engine.policy.params import in_force
from engine.service.app import problem
from engine.service.audit import document_bytes
from engine.service.auth import User
from engine.service.checking import Upload, read_upload
from engine.service.core import Checked, Service, public_trace, visible_roles

__all__ = ["router", "check_answer"]

router = APIRouter(prefix="/api/v1")
bearer = HTTPBearer(auto_error=False, description="An officer's API token: `chanjiao users token NAME`.")

JSON_TYPES = {"application/json": "dataset.json", "application/yaml": "dataset.yaml",
              "application/x-yaml": "dataset.yaml", "text/yaml": "dataset.yaml"}
DATASET_BODY = {
    "required": True,
    "description": "The dataset: an object whose keys are record types (enterprises, schools, agreements, …), "
                   "each a list of records — the JSON or YAML that `chanjiao check` reads. Full schema: "
                   "`GET /api/v1/schemas/dataset`.",
    "content": {t: {"schema": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "object"}}}}
                for t in ("application/json", "application/yaml")},
}


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def _user_of(svc: Service, creds: Optional[HTTPAuthorizationCredentials]) -> Optional[User]:
    """The officer a bearer token names; None without one; 401 for a bad, revoked or disabled token."""
    if creds is None:
        return None
    user = svc.accounts.by_token(creds.credentials)
    if user is None:
        raise HTTPException(401, "令牌无效、已撤销或账户已停用", headers={"WWW-Authenticate": "Bearer"})
    return user


def optional_user(request: Request,
                  creds: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> Optional[User]:
    """The officer a bearer token names; None without one; 401 for a bad, revoked or disabled token."""
    return _user_of(_service(request), creds)


def officer(user: Optional[User] = Depends(optional_user)) -> User:
    """An officer (any role); anonymous callers are refused with 401."""
    if user is None:
        raise HTTPException(401, "此接口仅限干部使用：请提供 Authorization: Bearer <令牌>",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def admin(user: User = Depends(officer)) -> User:
    """An administrator; other roles are refused with 403."""
    if user.role != "admin":
        raise HTTPException(403, "仅管理员可用")
    return user


class CheckOut(BaseModel):
    """A check's answer: the decision document, the engine that decided, and the log entry if one was written."""

    check_id: Optional[int] = Field(None, description="the decision-log entry (officer checks only)")
    entry_hash: Optional[str] = None
    engine: str
    notes: list[str]
    exit_code: int = Field(description="0 every record accepted, 1 some rejected (listed in document.errors)")
    document: dict[str, Any]


class JobOut(BaseModel):
    """A background check: poll ``GET /api/v1/jobs/{id}`` until ``done``; then read the check ``check_id``."""

    id: str
    input_name: str
    created_at: str
    stage: str
    stage_label: str
    progress: float
    check_id: Optional[int]
    error: Optional[str]
    done: bool


def _check_out(checked: Checked, lang: str) -> dict[str, Any]:
    r = checked.result
    return {"check_id": checked.entry.seq if checked.entry else None,
            "entry_hash": checked.entry.entry_hash if checked.entry else None,
            "engine": r.engine, "notes": localise(r.notes, lang), "exit_code": r.exit_code,
            "document": localise(r.document, lang)}


def check_answer(checked: Checked, lang: str) -> bytes:
    """The body of a check's 200 answer: the bytes ``JSONResponse(_check_out(checked, lang))`` would send, made
    without a second pass over the document in Chinese — a Message's ``str`` is its Chinese text, so the
    document's JSON as the log stored it is the answer's ``document``, byte for byte."""
    r = checked.result
    head = json.dumps({"check_id": checked.entry.seq if checked.entry else None,
                       "entry_hash": checked.entry.entry_hash if checked.entry else None,
                       "engine": r.engine, "notes": localise(r.notes, lang), "exit_code": r.exit_code},
                      ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    if lang == "zh":
        doc = checked.document_json if checked.document_json is not None else document_bytes(r.document)
    else:
        doc = document_bytes(localise(r.document, lang))
    return head[:-1] + b',"document":' + doc + b"}"


def _as_of(as_of: Optional[dt.date]) -> dt.date:
    return as_of or dt.date.today()


def _run(svc: Service, upload: Upload, as_of: Optional[dt.date], param: list[str],
         creds: Optional[HTTPAuthorizationCredentials], background: bool, lang: str, period: Optional[str]) -> Response:
    """A check from the token to the answer's bytes, all on one threadpool thread (one hop off the event loop)."""
    user = _user_of(svc, creds)
    if user is not None and (background or len(upload.data) > svc.settings.job_threshold_bytes):
        job = svc.start_job(upload, as_of=_as_of(as_of), params=param, user=user, period=period)
        return JSONResponse(job.as_dict(), status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"})
    checked = svc.check(upload, as_of=_as_of(as_of), params=param, user=user, lang=lang, period=period)
    if checked.result.exit_code == 2:  # nothing could be decided: a problem, as the CLI exits 2 (still logged)
        out = _check_out(checked, lang)
        doc = out["document"]
        text = render(msg("cli.nothing_decided", n=len(checked.result.dataset.errors)), lang)
        return problem(422, text.removeprefix("chanjiao: "), errors=doc.get("errors"), warnings=doc.get("warnings"),
                       check_id=out["check_id"])
    return Response(check_answer(checked, lang), media_type="application/json")


AsOfQ = Query(None, description="evaluation date YYYY-MM-DD (default today)")
ParamQ = Query([], description="what-if override NAME=VALUE or PACK.NAME=VALUE (repeatable)")
PeriodQ = Query(None, max_length=16, description="decide only records dated in this tax year (2021) or quarter (2021Q3)")
LangQ = Query("zh", pattern="^(zh|en)$", description="language of reasons and messages: zh (default) or en")


@router.post("/check", response_model=CheckOut, openapi_extra={"requestBody": DATASET_BODY},
             responses={202: {"model": JobOut}}, tags=["checks"])
async def check(request: Request, as_of: Optional[dt.date] = AsOfQ, param: list[str] = ParamQ,
                background: bool = Query(False, description="officers: run as a job and answer 202 at once"),
                period: Optional[str] = PeriodQ, lang: str = LangQ,
                creds: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> Response:
    """Check a dataset sent as JSON or YAML. An officer's check is logged; anonymous checks store nothing."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in JSON_TYPES:
        raise HTTPException(415, f"请求体须为 JSON 或 YAML（收到 {ctype}）；工作簿与 CSV 压缩包请用 /api/v1/check/upload")
    body = await request.body()
    return await run_in_threadpool(_run, _service(request), Upload(JSON_TYPES[ctype], body), as_of, param, creds,
                                   background, lang, period)


@router.post("/check/upload", response_model=CheckOut, responses={202: {"model": JobOut}}, tags=["checks"])
async def check_upload(request: Request,
                       file: UploadFile = File(..., description="an .xlsx workbook, a .zip of CSV files, .csv, .json or .yaml"),
                       as_of: Optional[dt.date] = Form(None), param: list[str] = Form([]),
                       background: bool = Form(False), period: Optional[str] = Form(None), lang: str = LangQ,
                       creds: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> Response:
    """Check an uploaded workbook or zipped CSV export (large officer uploads run as jobs: 202 + Location)."""
    data = await file.read()
    return await run_in_threadpool(_run, _service(request), Upload(file.filename or "upload", data), as_of, param,
                                   creds, background, lang, period)


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["checks"])
def job(job_id: str, request: Request, user: User = Depends(officer)) -> dict[str, Any]:
    """A background check's stage and progress (0–1); ``check_id`` when done."""
    found = _service(request).jobs.get(job_id)
    if found is None or (found.owner != user.username and user.role != "admin"):
        raise HTTPException(404, "没有这个任务")
    return found.as_dict()


@router.post("/explain", openapi_extra={"requestBody": DATASET_BODY}, tags=["checks"])
async def explain(request: Request, rule: str = Query(..., description="rule id, e.g. tonghua.frontline_share"),
                  subject: str = Query(..., description="the subject record's id"),
                  as_of: Optional[dt.date] = AsOfQ, param: list[str] = ParamQ, lang: str = LangQ) -> dict[str, Any]:
    """How one decision was made: each condition with the facts it read, parameters with citations, the gap."""
    svc = _service(request)
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in JSON_TYPES:
        raise HTTPException(415, f"请求体须为 JSON 或 YAML（收到 {ctype}）")
    body = await request.body()

    def work() -> dict[str, Any]:
        overrides = svc.checker.overrides(param)
        ds = read_upload(svc.checker, Upload(JSON_TYPES[ctype], body), svc.settings.max_unzipped_bytes)
        trace = svc.checker.explain(ds, rule, subject, as_of=_as_of(as_of), params=overrides)
        return localise(public_trace(trace, svc.checker.packs), lang)

    return await run_in_threadpool(work)


@router.get("/rules", tags=["rules"])
def rules(request: Request) -> list[dict[str, Any]]:
    """Every encoded rule: id, title, effect, subject, document and the clause it encodes, quoted."""
    return [{"id": r.id, "title": r.title, "effect": r.effect, "subject": r.subject, "pack": p.id,
             "citation": p.citation(r.citation.clause, r.citation.quote).as_dict()}
            for p in _service(request).checker.packs for r in p.rules]


@router.get("/rules/{rule_id}", tags=["rules"])
def rule(rule_id: str, request: Request) -> dict[str, Any]:
    """One rule with its citation, its pack's jurisdiction and the YAML it is written in."""
    pack, r = _service(request).checker.rule(rule_id)
    try:
        text = open(r.file, encoding="utf-8").read()
    except OSError:
        text = None
    return {"id": r.id, "title": r.title, "effect": r.effect, "subject": r.subject, "pack": pack.id,
            "jurisdiction": pack.jurisdiction, "region_prefixes": list(pack.region_prefixes),
            "citation": pack.citation(r.citation.clause, r.citation.quote).as_dict(), "yaml": text}


@router.get("/parameters", tags=["rules"])
def parameters(request: Request, as_of: Optional[dt.date] = Query(None, description="also give the value in force on this day")
               ) -> list[dict[str, Any]]:
    """Every parameter: its dated values and the sentence of the document it comes from."""
    out = []
    for p in _service(request).checker.packs:
        for name, param in sorted(p.parameters.items()):
            item: dict[str, Any] = {
                "pack": p.id, "name": name, "description": param.description, "type": param.type, "unit": param.unit,
                "values": [{"from": d.isoformat(), "value": None if v is None else str(v)} for d, v in param.values],
                "citation": param.citation.as_dict()}
            if as_of is not None:
                v = in_force(p, name, as_of).value
                item["value_in_force"] = None if v is None else str(v)
            out.append(item)
    return out


@router.get("/sources", tags=["rules"])
def sources(request: Request) -> list[dict[str, Any]]:
    """The documents encoded: number, title, issuer, date, jurisdiction, and where to read the verbatim text."""
    return [{"pack": p.id, "document_number": p.document_number, "title": p.title, "issuer": p.issuer,
             "issued_on": p.issued_on.isoformat(), "jurisdiction": p.jurisdiction, "digest": p.digest,
             "text": f"/api/v1/sources/{p.id}"} for p in _service(request).checker.packs]


@router.get("/sources/{pack_id}", response_class=PlainTextResponse, tags=["rules"])
def source_text(pack_id: str, request: Request) -> PlainTextResponse:
    """The official text of a pack's document, verbatim (every rule's quote is found in it)."""
    for p in _service(request).checker.packs:
        if p.id == pack_id:
            return PlainTextResponse(p.source_text)
    raise HTTPException(404, f"没有规则包 {pack_id!r}")


@router.get("/schemas/dataset", tags=["rules"])
def dataset_schema() -> dict[str, Any]:
    """The JSON Schema of a dataset (what ``/check`` and ``/explain`` read)."""
    from engine.output.schema import schema_documents

    return schema_documents()["dataset.schema.json"]


@router.get("/health", tags=["service"])
def health(request: Request) -> dict[str, Any]:
    """Liveness: the packs loaded and the database reachable."""
    svc = _service(request)
    with svc.db.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    return {"status": "ok", "packs": [p.id for p in svc.checker.packs], "database": svc.db.dialect.name}


@router.get("/me", tags=["officers"])
def me(user: User = Depends(officer)) -> dict[str, Any]:
    """The officer the token belongs to."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "role_label": user.role_label}


@router.get("/checks", tags=["officers"])
def checks(request: Request, user: User = Depends(officer),
           enterprise: Optional[str] = Query(None, max_length=64, description="an enterprise's 统一社会信用代码"),
           rule: Optional[str] = Query(None, max_length=128, description="checks with decisions of this rule"),
           date_from: Optional[dt.date] = Query(None), date_to: Optional[dt.date] = Query(None),
           username: Optional[str] = Query(None, alias="user", max_length=64, description="who ran the check"),
           limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**9)) -> dict[str, Any]:
    """The logged checks this officer may see, newest first, filtered by enterprise, rule, date and user."""
    total, entries = _service(request).log.search(
        enterprise=enterprise, rule=rule, date_from=date_from, date_to=date_to, username=username,
        roles=visible_roles(user), limit=limit, offset=offset)
    return {"total": total, "items": [e.as_dict() for e in entries]}


SeqPath = Path(..., ge=1, le=2**53, description="the check's number in the decision log")


def _entry(request: Request, seq: int, user: User) -> Any:
    entry = _service(request).entry_for(seq, user)
    if entry is None:
        raise HTTPException(404, f"没有编号为 {seq} 的检查记录（或无权查看）")
    return entry



@router.get("/checks/{seq}", tags=["officers"], response_model=dict[str, Any])
def check_detail(request: Request, seq: int = SeqPath, user: User = Depends(officer)) -> Response:
    """One logged check: the log entry and its decision document."""
    entry = _entry(request, seq, user)
    head = json.dumps({"entry": entry.as_dict()}, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")
    # the stored JSON is the answer's "document" as JSONResponse would write it; made here, on the threadpool, so
    # a check of thousands of decisions is not parsed and written again on the event loop other clients share
    return Response(head[:-1] + b',"document":' + _service(request).log.document_json_of(entry.seq) + b"}",
                    media_type="application/json")


@router.get("/checks/{seq}/report.xlsx", tags=["officers"],
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def check_report(request: Request, seq: int = SeqPath, user: User = Depends(officer)) -> Response:
    """The check's XLSX report: the workbook ``chanjiao check --format xlsx`` writes for the same input."""
    entry = _entry(request, seq, user)
    data = _service(request).report(entry)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="chanjiao-check-{entry.seq}.xlsx"'})


@router.get("/checks/{seq}/explain", tags=["officers"])
def check_explain(request: Request, seq: int = SeqPath, user: User = Depends(officer),
                  rule: str = Query(..., max_length=128, description="rule id"),
                  subject: str = Query(..., max_length=128, description="the subject record's id"),
                  lang: str = LangQ) -> dict[str, Any]:
    """How one decision of a logged check was made (its recorded input, date and parameters)."""
    entry = _entry(request, seq, user)
    return localise(_service(request).explain(entry, rule, subject), lang)


@router.post("/checks/{seq}/replay", tags=["officers"])
def check_replay(request: Request, seq: int = SeqPath, user: User = Depends(officer)) -> dict[str, Any]:
    """Re-run a logged check under today's packs (same input, date and parameters) and list the differences."""
    entry = _entry(request, seq, user)
    checked, diff = _service(request).replay(entry, user)
    assert checked.entry is not None
    return {"replay_of": entry.seq, "check_id": checked.entry.seq, "differences": diff}


@router.get("/audit/verify", tags=["officers"])
def audit_verify(request: Request, user: User = Depends(admin), lang: str = LangQ) -> dict[str, Any]:
    """Administrators: verify the decision log's hash chain (altered, removed or reordered entries)."""
    count, head, problems = _service(request).log.verify()
    return {"entries": count, "head": head, "intact": not problems, "problems": [p.text(lang) for p in problems]}

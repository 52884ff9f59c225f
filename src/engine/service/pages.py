"""The web pages, in Chinese, server-rendered: the enterprise self-assessment and the officers' pages.

Forms carry a CSRF token that must equal the ``cj_csrf`` cookie (double submit; the session cookie is
``SameSite=Strict`` and ``HttpOnly``). Officer pages need a session (``/login``); each role sees its own role's
checks, an administrator all. The only script is ``/static/app.js`` (the interview updates as facts are typed);
every page works without it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from typing import Any, Optional
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from engine.output.terms import NEGATIVE_STATUSES, NOT_APPLICABLE, POSITIVE_STATUSES, UNDETERMINED
from engine.errors import FatalError
from engine.output.explain import KIND_LABELS, STATUS_LABELS
from engine.service.auth import ROLE_LABELS, User
from engine.service.checking import STAGE_LABELS, Upload
from engine.service.core import Service, visible_roles
from engine.service.selfcheck import (AGREEMENT_FIELDS, AGREEMENT_ROWS, BY_NAME, FACT_KEYS, FIELDS, assess, city_choices,
                        facts_dataset)

__all__ = ["router", "error_page"]

router = APIRouter(include_in_schema=False)
SESSION = "cj_session"
CSRF = "cj_csrf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS_CLASS = {**{s: "ok" for s in POSITIVE_STATUSES}, **{s: "bad" for s in NEGATIVE_STATUSES},
                UNDETERMINED: "unknown", NOT_APPLICABLE: "na"}
"""The page's style class of each status."""


def _svc(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def _csrf(request: Request) -> str:
    token = getattr(request.state, "csrf", None) or request.cookies.get(CSRF)
    if not token or len(token) > 100:
        token = secrets.token_urlsafe(24)
    request.state.csrf = token
    return token


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page from ``templates/`` with the user, CSRF token and labels every page uses."""
    token = _csrf(request)
    ctx = {"user": getattr(request.state, "user", None), "csrf": token, "status_labels": STATUS_LABELS,
           "status_class": STATUS_CLASS, "role_labels": ROLE_LABELS, **context}
    response = request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status)
    if request.cookies.get(CSRF) != token:
        response.set_cookie(CSRF, token, httponly=True, samesite="strict",
                            secure=_svc(request).settings.secure_cookies, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The Chinese error page (never a stack trace)."""
    return render(request, "error.html", {"status": status, "message": message}, status)


async def _form(request: Request) -> FormData:
    """The posted form, once its CSRF token has been checked against the cookie (403 otherwise)."""
    form = await request.form(max_files=2, max_fields=200)
    sent = form.get("csrf")
    cookie = request.cookies.get(CSRF)
    if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent, cookie):
        raise HTTPException(403, "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")
    return form


def page_user(request: Request) -> Optional[User]:
    """The officer of the session cookie, or None."""
    value = request.cookies.get(SESSION)
    user = _svc(request).accounts.by_session(value) if value else None
    request.state.user = user
    return user


def require_officer(request: Request, user: Optional[User] = Depends(page_user)) -> User:
    """An officer's session, or a redirect to the login page."""
    if user is None:
        raise HTTPException(303, "请先登录", headers={"Location": "/login?next=" + quote(request.url.path)})
    return user


def _as_of(text: Any) -> dt.date:
    if isinstance(text, str) and text.strip():
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            raise FatalError(f"评估日期 {text!r} 不是 YYYY-MM-DD 格式的日期") from None
    return dt.date.today()


def _params(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    return [line.strip() for line in text.replace("；", "\n").replace(";", "\n").splitlines() if line.strip()]


async def _upload(form: FormData, name: str = "file") -> Upload:
    item = form.get(name)
    if not isinstance(item, UploadFile) or not item.filename:
        raise FatalError("请选择要上传的文件（.xlsx 工作簿、CSV 文件的 .zip 压缩包、.csv、.json 或 .yaml）")
    return Upload(item.filename, await item.read())


# --------------------------------------------------------------------------------------------------- public pages

@router.get("/", response_class=HTMLResponse)
def index(request: Request, user: Optional[User] = Depends(page_user)) -> Response:
    """The home page: the self-assessment and the officers' entrance."""
    return render(request, "index.html", {"packs": city_choices(_svc(request))})


def _self_context(request: Request, a: Any) -> dict[str, Any]:
    return {"a": a, "fields": FIELDS, "by_name": BY_NAME, "agreement_fields": AGREEMENT_FIELDS,
            "agreement_rows": range(1, AGREEMENT_ROWS + 1), "cities": city_choices(_svc(request)),
            "today": dt.date.today().isoformat()}


@router.get("/self", response_class=HTMLResponse)
async def self_page(request: Request, user: Optional[User] = Depends(page_user)) -> Response:
    """企业自评: the interview's first round."""
    svc = _svc(request)
    pack = request.query_params.get("pack") or svc.checker.packs[0].id
    facts = {"region_code": next((c["region"] for c in city_choices(svc) if c["id"] == pack), "")}
    a = await run_in_threadpool(assess, svc, pack, facts, dt.date.today())
    return render(request, "self.html", _self_context(request, a))


def _facts(form: FormData) -> dict[str, str]:
    return {k: str(form.get(k) or "") for k in FACT_KEYS}


@router.post("/self", response_class=HTMLResponse)
async def self_submit(request: Request, user: Optional[User] = Depends(page_user)) -> Response:
    """The next round of the interview (the page without its script posts here)."""
    form = await _form(request)
    a = await run_in_threadpool(assess, _svc(request), str(form.get("pack") or ""), _facts(form),
                                _as_of(form.get("as_of")))
    return render(request, "self.html", _self_context(request, a))


@router.post("/self/update")
async def self_update(request: Request) -> Response:
    """The interview's next round for the page's script: the results' HTML and the fields to show."""
    form = await _form(request)
    a = await run_in_threadpool(assess, _svc(request), str(form.get("pack") or ""), _facts(form),
                                _as_of(form.get("as_of")))
    html = request.app.state.templates.get_template("_self_results.html").render(
        {**_self_context(request, a), "status_labels": STATUS_LABELS, "status_class": STATUS_CLASS})
    return JSONResponse({"html": html, "show": a.show, "ask": a.ask, "errors": a.field_errors},
                        headers={"Cache-Control": "no-store"})


@router.post("/self/report")
async def self_report(request: Request) -> Response:
    """The self-assessment's result as the XLSX report (computed again from the form; nothing stored)."""
    form = await _form(request)
    svc = _svc(request)
    upload = Upload("自评.json", facts_dataset(_facts(form)))
    day = _as_of(form.get("as_of"))
    checked = await run_in_threadpool(svc.check, upload, as_of=day)
    data = await run_in_threadpool(svc.report_for, checked, upload, day)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": "attachment; filename=\"self-assessment.xlsx\""})


@router.post("/self/save", response_class=HTMLResponse)
async def self_save(request: Request) -> Response:
    """Keep the entered facts under an unguessable link, because the enterprise chose to."""
    form = await _form(request)
    facts = {**_facts(form), "pack": str(form.get("pack") or ""), "as_of": str(form.get("as_of") or "")}
    token = await run_in_threadpool(_svc(request).save_assessment, facts)
    return render(request, "saved.html", {"link": f"/self/saved/{token}"})


@router.get("/self/saved/{token}", response_class=HTMLResponse)
async def self_saved(token: str, request: Request, user: Optional[User] = Depends(page_user)) -> Response:
    """A saved self-assessment, evaluated again today under today's packs."""
    facts = await run_in_threadpool(_svc(request).saved_assessment, token)
    if facts is None:
        raise HTTPException(404, "没有这份已保存的自评（链接有误或已删除）")
    a = await run_in_threadpool(assess, _svc(request), facts.get("pack", ""), facts, _as_of(facts.get("as_of")))
    return render(request, "self.html", _self_context(request, a))


@router.post("/self/upload", response_class=HTMLResponse)
async def self_upload(request: Request) -> Response:
    """An enterprise's workbook checked on the spot (nothing stored); or its XLSX report with ``download``."""
    form = await _form(request)
    svc = _svc(request)
    upload = await _upload(form)
    day = _as_of(form.get("as_of"))
    checked = await run_in_threadpool(svc.check, upload, as_of=day)
    doc = checked.result.document
    if form.get("download"):
        data = await run_in_threadpool(svc.report_for, checked, upload, day)
        return Response(data, media_type=XLSX, headers={"Content-Disposition": "attachment; filename=\"chanjiao-report.xlsx\""})
    # a workbook's page can hold thousands of decisions: rendered off the event loop, which other clients share
    return await run_in_threadpool(render, request, "result.html", {"doc": doc, "name": upload.name, "filters": {},
                                                                    "decisions": doc["decisions"]})


# --------------------------------------------------------------------------------------------------- login

@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """The officers' login form."""
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next")), "failed": False})


def _safe_next(target: Any) -> str:
    if isinstance(target, str) and target.startswith("/officer") and "//" not in target and "\\" not in target:
        return target
    return "/officer"


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the password; on success start a session (HttpOnly, SameSite=Strict cookie)."""
    form = await _form(request)
    svc = _svc(request)
    user = await run_in_threadpool(svc.accounts.login, str(form.get("username") or ""), str(form.get("password") or ""))
    target = _safe_next(form.get("next"))
    if user is None:
        return render(request, "login.html", {"next": target, "failed": True}, 401)
    value = await run_in_threadpool(svc.accounts.new_session, user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION, value, httponly=True, samesite="strict", secure=svc.settings.secure_cookies,
                        max_age=svc.settings.session_hours * 3600, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session."""
    await _form(request)
    value = request.cookies.get(SESSION)
    if value:
        await run_in_threadpool(_svc(request).accounts.end_session, value)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION, path="/")
    return response


# --------------------------------------------------------------------------------------------------- officers

@router.get("/officer", response_class=HTMLResponse)
def officer_home(request: Request, user: User = Depends(require_officer)) -> Response:
    """Upload a workbook or CSV export; the latest checks."""
    total, recent = _svc(request).log.search(roles=visible_roles(user), limit=10)
    return render(request, "officer.html", {"recent": recent, "total": total, "today": dt.date.today().isoformat()})


@router.post("/officer/check")
async def officer_check(request: Request, user: User = Depends(require_officer)) -> Response:
    """Check an upload as this officer (logged); a large one runs as a job with a progress page."""
    form = await _form(request)
    svc = _svc(request)
    upload = await _upload(form)
    as_of, params = _as_of(form.get("as_of")), _params(form.get("params"))
    period = str(form.get("period") or "").strip()[:16] or None
    if len(upload.data) > svc.settings.job_threshold_bytes:
        job = await run_in_threadpool(svc.start_job, upload, as_of=as_of, params=params, user=user, period=period)
        return RedirectResponse(f"/officer/jobs/{job.id}", status_code=303)
    checked = await run_in_threadpool(svc.check, upload, as_of=as_of, params=params, user=user, period=period)
    assert checked.entry is not None
    return RedirectResponse(f"/officer/checks/{checked.entry.seq}", status_code=303)


@router.get("/officer/jobs/{job_id}", response_class=HTMLResponse)
def officer_job(job_id: str, request: Request, user: User = Depends(require_officer)) -> Response:
    """A background check's progress (the page refreshes itself until it is done)."""
    job = _svc(request).jobs.get(job_id)
    if job is None or (job.owner != user.username and user.role != "admin"):
        raise HTTPException(404, "没有这个任务")
    if job.stage == "done" and job.check_id is not None:
        return RedirectResponse(f"/officer/checks/{job.check_id}", status_code=303)
    return render(request, "job.html", {"job": job.as_dict(), "stage_labels": STAGE_LABELS})


@router.get("/officer/checks", response_class=HTMLResponse)
def officer_history(request: Request, user: User = Depends(require_officer)) -> Response:
    """The history of checks, filtered by enterprise, rule, date and user."""
    q = request.query_params
    filters = {k: q.get(k, "").strip()[:128] for k in ("enterprise", "rule", "date_from", "date_to", "user")}
    try:
        page = max(0, int(q.get("page", "0") or 0))
        total, entries = _svc(request).log.search(
            enterprise=filters["enterprise"] or None, rule=filters["rule"] or None,
            date_from=dt.date.fromisoformat(filters["date_from"]) if filters["date_from"] else None,
            date_to=dt.date.fromisoformat(filters["date_to"]) if filters["date_to"] else None,
            username=filters["user"] or None, roles=visible_roles(user), limit=50, offset=page * 50)
    except ValueError:
        raise FatalError("日期须为 YYYY-MM-DD 格式，页码须为整数") from None
    rules = [r.id for p in _svc(request).checker.packs for r in p.rules]
    return render(request, "history.html", {"entries": entries, "total": total, "filters": filters, "rules": rules,
                                            "page": page, "query": urlencode({k: v for k, v in filters.items() if v})})


def _entry(request: Request, seq: int, user: User) -> Any:
    entry = _svc(request).entry_for(seq, user)
    if entry is None:
        raise HTTPException(404, f"没有编号为 {seq} 的检查记录（或无权查看）")
    return entry


def filter_decisions(decisions: list[dict[str, Any]], filters: dict[str, str]) -> list[dict[str, Any]]:
    """Decisions matching the page's filters (status, rule, subject id substring)."""
    out = decisions
    if filters.get("status"):
        out = [d for d in out if d["status"] == filters["status"]]
    if filters.get("rule"):
        out = [d for d in out if d["rule_id"] == filters["rule"]]
    if filters.get("subject"):
        out = [d for d in out if filters["subject"] in d["subject_id"]]
    return out


@router.get("/officer/checks/{seq}", response_class=HTMLResponse)
def officer_check_detail(seq: int, request: Request, user: User = Depends(require_officer)) -> Response:
    """One check: who, when, which packs and parameters; the summary; decisions with filters; report; replay."""
    entry = _entry(request, seq, user)
    doc = _svc(request).log.document_of(entry.seq)
    q = request.query_params
    filters = {k: q.get(k, "").strip()[:128] for k in ("status", "rule", "subject")}
    decisions = filter_decisions(doc.get("decisions", []), filters)
    return render(request, "check.html", {"entry": entry, "doc": doc, "explain_base": f"/officer/checks/{seq}/explain", "decisions": decisions[:1000],
                                          "shown": len(decisions), "filters": filters,
                                          "rules": sorted({d["rule_id"] for d in doc.get("decisions", [])})})


@router.get("/officer/checks/{seq}/report.xlsx")
def officer_report(seq: int, request: Request, user: User = Depends(require_officer)) -> Response:
    """The check's XLSX report (the workbook ``chanjiao check --format xlsx`` writes)."""
    entry = _entry(request, seq, user)
    data = _svc(request).report(entry)
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="chanjiao-check-{entry.seq}.xlsx"',
                             "Cache-Control": "no-store"})


@router.get("/officer/audit", response_class=HTMLResponse)
def officer_audit(request: Request, user: User = Depends(require_officer)) -> Response:
    """Administrators: verify the decision log's hash chain and show its head hash to record elsewhere."""
    if user.role != "admin":
        raise HTTPException(403, "仅管理员可查看日志校验")
    count, head, problems = _svc(request).log.verify()
    return render(request, "audit.html", {"count": count, "head": head, "problems": [str(p) for p in problems]})


@router.get("/officer/checks/{seq}/explain", response_class=HTMLResponse)
def officer_explain(seq: int, request: Request, user: User = Depends(require_officer)) -> Response:
    """How one decision of a check was made: conditions, facts read, parameters with citations, the gap."""
    entry = _entry(request, seq, user)
    rule = request.query_params.get("rule", "")[:128]
    subject = request.query_params.get("subject", "")[:128]
    trace = _svc(request).explain(entry, rule, subject)
    return render(request, "explain.html", {"entry": entry, "t": trace, "kind_labels": KIND_LABELS})


@router.post("/officer/checks/{seq}/replay", response_class=HTMLResponse)
async def officer_replay(seq: int, request: Request, user: User = Depends(require_officer)) -> Response:
    """Replay a check under today's packs and show what changed."""
    await _form(request)
    entry = await run_in_threadpool(_entry, request, seq, user)  # a database read: off the event loop
    checked, diff = await run_in_threadpool(_svc(request).replay, entry, user)
    return await run_in_threadpool(render, request, "replay.html", {
        "entry": entry, "new": checked.entry, "diff": diff, "diff_json": json.dumps(diff, ensure_ascii=False, indent=1)})

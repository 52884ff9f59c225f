"""The web service's API and pages over real SQLite, through FastAPI's TestClient (real HTTP semantics).

Proves: the service's documents equal the library's and the CLI's for JSON, XLSX and zipped CSV; anonymous
checks store nothing and officer endpoints refuse anonymous callers; every officer check is logged and filterable;
roles see only their checks; errors are problem+json with the CLI's message, never a traceback; security headers
and CSRF; jobs; replay; the self-assessment interview asks only for facts that decide something.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import time
import zipfile
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.responses import JSONResponse  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from engine.run import Checker  # noqa: E402
from engine.service import Settings, create_app  # noqa: E402
from engine.service.core import Service, replay_differences  # noqa: E402
from engine.service.selfcheck import assess  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
AS_OF = "2021-12-31"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker()


@pytest.fixture()
def service(tmp_path: Path, checker: Checker) -> Service:
    svc = Service(Settings(data_dir=tmp_path, engine="auto", job_threshold_bytes=10_000_000), checker=checker)
    yield svc
    svc.close()


@pytest.fixture()
def client(service: Service) -> TestClient:
    app = create_app(service.settings, service=service)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _officer(service: Service, name: str, role: str) -> dict[str, str]:
    service.accounts.add(name, role, PASSWORD)
    return {"Authorization": f"Bearer {service.accounts.new_token(name)}"}


def _json_check(client: TestClient, path: Path, headers: dict[str, str] | None = None, **params: Any) -> Any:
    return client.post("/api/v1/check", content=path.read_bytes(), params={"as_of": AS_OF, **params},
                       headers={"Content-Type": "application/json", **(headers or {})})


def _library(checker: Checker, path: Path) -> dict[str, Any]:
    return checker.check(path, as_of=dt.date(2021, 12, 31)).document


# ------------------------------------------------------------------------------------------------ checks

def test_anonymous_json_check_equals_the_cli_and_stores_nothing(client: TestClient, service: Service,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "dataset.json"  # a JSON body is read as "dataset.json": places in messages name it so
    path.write_bytes((EXAMPLES / "tonghua-self-assessment.json").read_bytes())
    r = _json_check(client, path)
    assert r.status_code == 200, r.text
    body = r.json()
    cli = subprocess.run([str(Path(sys.executable).parent / "chanjiao"), "check", str(path), "--as-of", AS_OF,
                          "--format", "json"], capture_output=True, text=True, cwd=REPO)
    assert body["document"] == json.loads(cli.stdout)
    assert body["check_id"] is None and body["exit_code"] == cli.returncode
    assert service.log.search()[0] == 0


def test_xlsx_and_zipped_csv_uploads_equal_the_library(client: TestClient, checker: Checker) -> None:
    xlsx = EXAMPLES / "yichang-enterprise-2021.xlsx"
    r = client.post("/api/v1/check/upload", files={"file": (xlsx.name, xlsx.read_bytes())}, data={"as_of": AS_OF})
    assert r.status_code == 200, r.text
    assert r.json()["document"] == _library(checker, xlsx)
    folder = EXAMPLES / "tonghua-finance-bureau"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.glob("*.csv")):
            z.write(f, f"export/{f.name}")
    r = client.post("/api/v1/check/upload", files={"file": ("tonghua.zip", buf.getvalue())}, data={"as_of": AS_OF})
    assert r.status_code == 200, r.text
    assert r.json()["document"] == _library(checker, folder)


def test_rejected_records_are_in_the_document_with_exit_code_1(client: TestClient, checker: Checker,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "dataset.json"  # the name a JSON body is read under
    path.write_bytes((EXAMPLES / "bad-records.json").read_bytes())
    r = _json_check(client, path)
    assert r.status_code == 200
    assert r.json()["exit_code"] == 1
    assert r.json()["document"]["errors"] == _library(checker, path)["errors"] != []


@pytest.mark.parametrize("body, ctype, fragment", [
    (b'{"enterprises": [', "application/json", "dataset.json:1:"),
    (b"[1, 2]", "application/json", "应为以记录类型为键的对象"),
    (b"enterprises: [", "application/yaml", "dataset.yaml"),
])
def test_unreadable_input_is_problem_json_with_the_cli_message(client: TestClient, body: bytes, ctype: str,
                                                                fragment: str) -> None:
    r = client.post("/api/v1/check", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert fragment in problem["detail"] and "Traceback" not in r.text and "/tmp" not in r.text
    assert problem["status"] == 422 and problem["errors"] == [] and problem["warnings"] == []


def test_bad_upload_parameter_and_format_are_problems(client: TestClient) -> None:
    r = client.post("/api/v1/check/upload", files={"file": ("data.docx", b"x")})
    assert r.status_code == 422 and r.json()["detail"].startswith("data.docx：无法识别的数据格式 .docx")
    r = client.post("/api/v1/check/upload", files={"file": ("data.docx", b"x")}, params={"lang": "en"})
    assert r.json()["detail"].startswith("data.docx: unknown dataset format .docx")
    r = client.post("/api/v1/check", content=b"{}", params={"param": "no_such=1"},
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "no_such" in r.json()["detail"]
    r = client.post("/api/v1/check", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/api/v1/check", content=b"{}", params={"as_of": "2021-02-30"},
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "as_of"]


def test_zip_bomb_and_oversized_upload_are_refused(tmp_path: Path, checker: Checker) -> None:
    svc = Service(Settings(data_dir=tmp_path, max_upload_bytes=1 << 20, max_unzipped_bytes=1 << 20), checker=checker)
    with TestClient(create_app(svc.settings, service=svc), raise_server_exceptions=False) as c:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("enterprises.csv", "id,name\n" + "0" * (3 << 20))
        assert len(buf.getvalue()) < 1 << 20
        r = c.post("/api/v1/check/upload", files={"file": ("bomb.zip", buf.getvalue())})
        assert r.status_code == 422 and "解压后超过 1 MiB" in r.json()["detail"]
        r = c.post("/api/v1/check", content=b" " * (3 << 20), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    svc.close()


def test_internal_error_is_a_problem_without_traceback(client: TestClient, service: Service,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("secret internals /srv/x.py")

    monkeypatch.setattr(service.checker, "check", boom)
    r = _json_check(client, EXAMPLES / "tonghua-self-assessment.json")
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in r.text and "Traceback" not in r.text and r.json()["incident"]
    assert "content-security-policy" in r.headers


def test_explain_rules_parameters_sources(client: TestClient) -> None:
    path = EXAMPLES / "tonghua-self-assessment.json"
    r = client.post("/api/v1/explain", content=path.read_bytes(), headers={"Content-Type": "application/json"},
                    params={"rule": "tonghua.frontline_share", "subject": "91220502MA0Y0A0133", "as_of": AS_OF})
    assert r.status_code == 200, r.text
    trace = r.json()
    assert trace["decision"]["status"] == "non_compliant"
    assert trace["gaps"] == ["一线培训经费还需增加 ¥12,000.00 才达到 60%"]
    assert not trace["rule_file"].startswith("/") and all(not s["where"].startswith("/") for s in trace["steps"])
    r = client.post("/api/v1/explain", content=path.read_bytes(), headers={"Content-Type": "application/json"},
                    params={"rule": "tonghua.frontline_share", "subject": "nobody"})
    assert r.status_code == 422 and "没有 id 为“nobody”的已接受的企业" in r.json()["detail"]
    r = client.post("/api/v1/explain", content=b"{}", headers={"Content-Type": "application/json"},
                    params={"rule": "tonghua.frontline_shar", "subject": "x"})
    assert "tonghua.frontline_share" in r.json()["detail"] and r.status_code == 422
    rules = client.get("/api/v1/rules").json()
    assert len(rules) == 11 and all(r["citation"]["quote"] for r in rules)
    assert "applies_if" in client.get("/api/v1/rules/tonghua.frontline_share").json()["yaml"]
    params = {(p["pack"], p["name"]): p for p in client.get("/api/v1/parameters", params={"as_of": AS_OF}).json()}
    share = params[("tonghua-2019", "frontline_min_share")]
    assert share["values"][0]["from"] == "2019-07-25" and share["value_in_force"] == "0.60"
    assert share["citation"]["clause"] == "二（二）11"
    sources = client.get("/api/v1/sources").json()
    text = client.get(sources[0]["text"]).text
    assert next(r for r in rules if r["pack"] == sources[0]["pack"])["citation"]["quote"] in text
    assert client.get("/api/v1/sources/nope").status_code == 404


# ------------------------------------------------------------------------------------------------ officers

OFFICER_ENDPOINTS = [("get", "/api/v1/me"), ("get", "/api/v1/checks"), ("get", "/api/v1/checks/1"),
                     ("get", "/api/v1/checks/1/report.xlsx"), ("post", "/api/v1/checks/1/replay"),
                     ("get", "/api/v1/jobs/abc"), ("get", "/api/v1/audit/verify")]


@pytest.mark.parametrize("method, url", OFFICER_ENDPOINTS)
def test_anonymous_and_bad_tokens_are_refused(client: TestClient, service: Service, method: str, url: str) -> None:
    headers = _officer(service, "tax1", "tax_officer")
    assert _json_check(client, EXAMPLES / "tonghua-self-assessment.json", headers).status_code == 200
    for auth in ({}, {"Authorization": "Bearer cj_0123456789abcdef_wrong"}, {"Authorization": "Bearer junk"}):
        r = getattr(client, method)(url, headers=auth)
        assert r.status_code == 401, (url, auth, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.headers["www-authenticate"] == "Bearer"


def test_officer_checks_are_logged_filtered_and_role_scoped(client: TestClient, service: Service) -> None:
    tax = _officer(service, "tax1", "tax_officer")
    fin = _officer(service, "fin1", "finance_officer")
    boss = _officer(service, "boss", "admin")
    r1 = _json_check(client, EXAMPLES / "tonghua-self-assessment.json", tax).json()
    xlsx = EXAMPLES / "yichang-enterprise-2021.xlsx"
    r2 = client.post("/api/v1/check/upload", files={"file": (xlsx.name, xlsx.read_bytes())},
                     data={"as_of": AS_OF, "param": ["certificate_subsidy_amount=1500"]}, headers=fin).json()
    assert (r1["check_id"], r2["check_id"]) == (1, 2)
    assert client.get("/api/v1/me", headers=fin).json()["role"] == "finance_officer"
    listed = client.get("/api/v1/checks", headers=boss).json()
    assert listed["total"] == 2 and [e["seq"] for e in listed["items"]] == [2, 1]
    entry = listed["items"][0]
    assert entry["username"] == "fin1" and entry["role"] == "finance_officer" and entry["as_of"] == AS_OF
    assert entry["input_digest"].startswith("sha256:") and entry["packs"][0]["digest"].startswith("sha256:")
    overridden = [(p["pack"], p["name"], Decimal(p["value"])) for p in entry["parameters"] if p["source"] == "override"]
    assert overridden == [("tonghua-2019", "certificate_subsidy_amount", Decimal(1500))]
    assert {p["source"] for p in entry["parameters"]} == {"pack", "override"}
    assert client.get("/api/v1/checks", headers=tax).json()["total"] == 1  # each role sees its own
    assert client.get("/api/v1/checks/2", headers=tax).status_code == 404
    assert client.get("/api/v1/checks/2", headers=fin).json()["document"] == r2["document"]
    detail = client.get("/api/v1/checks/2", headers=fin)  # the stored bytes, as JSONResponse would write them
    assert detail.content == JSONResponse({"entry": service.log.get(2).as_dict(),
                                           "document": service.log.document_of(2)}).body
    assert client.get("/api/v1/checks", headers=boss, params={"enterprise": "91220502MA0Y0A0133"}).json()["total"] == 1
    assert client.get("/api/v1/checks", headers=boss, params={"rule": "yichang.intern_pay_deduction"}).json()["total"] == 1
    assert client.get("/api/v1/checks", headers=boss, params={"user": "tax1"}).json()["items"][0]["seq"] == 1
    today = dt.date.today()
    assert client.get("/api/v1/checks", headers=boss, params={"date_from": str(today)}).json()["total"] == 2
    assert client.get("/api/v1/checks", headers=boss,
                      params={"date_to": str(today - dt.timedelta(days=1))}).json()["total"] == 0
    assert client.get("/api/v1/audit/verify", headers=tax).status_code == 403
    assert client.get("/api/v1/audit/verify", headers=boss).json() == {
        "entries": 2, "head": listed["items"][0]["entry_hash"], "intact": True, "problems": []}


def test_disabled_officer_token_stops_working(client: TestClient, service: Service) -> None:
    tax = _officer(service, "tax1", "tax_officer")
    assert client.get("/api/v1/me", headers=tax).status_code == 200
    service.accounts.disable("tax1")
    assert client.get("/api/v1/me", headers=tax).status_code == 401


def test_concurrent_calls_with_an_unverified_token_pay_argon2_once(service: Service) -> None:
    """Eight calls at once with a token not yet verified: one argon2 verification, the others wait for its answer;
    a wrong secret for the same token id is still refused."""
    import threading

    service.accounts.add("tax1", "tax_officer", PASSWORD)
    token = service.accounts.new_token("tax1")
    verified: list[str] = []
    real = service.accounts.hasher

    class Counting:
        def verify(self, stored: str, secret: str) -> bool:
            verified.append(secret)
            time.sleep(0.2)  # argon2 takes tens of milliseconds: the others arrive meanwhile
            return real.verify(stored, secret)

    service.accounts.hasher = Counting()  # type: ignore[assignment]
    users: list[Any] = []
    pool = [threading.Thread(target=lambda: users.append(service.accounts.by_token(token))) for _ in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert [u.username for u in users] == ["tax1"] * 8 and len(verified) == 1
    assert service.accounts.by_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert len(verified) == 2


def test_report_is_the_cli_workbook(client: TestClient, service: Service, tmp_path: Path) -> None:
    import openpyxl

    tax = _officer(service, "tax1", "tax_officer")
    xlsx = EXAMPLES / "yichang-enterprise-2021.xlsx"
    client.post("/api/v1/check/upload", files={"file": (xlsx.name, xlsx.read_bytes())}, data={"as_of": AS_OF},
                headers=tax)
    r = client.get("/api/v1/checks/1/report.xlsx", headers=tax)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    (tmp_path / "served.xlsx").write_bytes(r.content)
    cli = tmp_path / "cli.xlsx"
    subprocess.run([str(Path(sys.executable).parent / "chanjiao"), "check", str(xlsx), "--as-of", AS_OF, "--format",
                    "xlsx", "--output", str(cli)], check=False, cwd=REPO)

    def cells(path: Path) -> dict[str, list[tuple[Any, ...]]]:
        wb = openpyxl.load_workbook(path, read_only=True)
        return {ws.title: [r for r in ws.iter_rows(values_only=True) if r and r[0] not in ("运行时间", "Run time")]
                for ws in wb.worksheets}  # every cell but the moment the workbook was written

    served = cells(tmp_path / "served.xlsx")
    assert served == cells(cli) and len(served.get("decisions") or served["决定"]) > 1


def test_replay_same_packs_is_same_and_changed_packs_show_differences(client: TestClient, service: Service,
                                                                     tmp_path: Path) -> None:
    import shutil

    tax = _officer(service, "tax1", "tax_officer")
    _json_check(client, EXAMPLES / "tonghua-self-assessment.json", tax)
    r = client.post("/api/v1/checks/1/replay", headers=tax).json()
    assert r["check_id"] == 2 and r["differences"]["same"] is True
    # today's packs differ: the 60 % frontline share lowered to 50 % in a pack that replaces the shipped one
    pack = tmp_path / "rules" / "tonghua-2019"
    shutil.copytree(REPO / "policy_rules" / "tonghua-2019", pack)
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    assert "value: 0.60" in text
    (pack / "pack.yaml").write_text(text.replace("value: 0.60", "value: 0.50"), encoding="utf-8")
    changed = Service(Settings(data_dir=service.settings.data_dir, rules=(tmp_path / "rules",)))
    with TestClient(create_app(changed.settings, service=changed), raise_server_exceptions=False) as c2:
        diff = c2.post("/api/v1/checks/1/replay", headers=tax).json()["differences"]
    changed.close()
    assert diff["same"] is False and [p["id"] for p in diff["packs"]] == ["tonghua-2019"]
    assert [(c["rule_id"], c["changes"]["status"]) for c in diff["changed"]] == [
        ("tonghua.frontline_share", {"before": "non_compliant", "after": "compliant"})]


def test_replay_differences_lists_added_and_removed() -> None:
    d = {"rule_id": "r", "subject_type": "enterprises", "subject_id": "A", "status": "eligible"}
    diff = replay_differences({"decisions": [d]}, {"decisions": [{**d, "subject_id": "B"}]})
    assert [x["subject_id"] for x in diff["added"]] == ["B"] and [x["subject_id"] for x in diff["removed"]] == ["A"]


def test_background_job_reports_progress_and_logs_its_check(client: TestClient, service: Service) -> None:
    tax = _officer(service, "tax1", "tax_officer")
    xlsx = EXAMPLES / "yichang-enterprise-2021.xlsx"
    r = client.post("/api/v1/check/upload", files={"file": (xlsx.name, xlsx.read_bytes())},
                    data={"as_of": AS_OF, "background": "true"}, headers=tax)
    assert r.status_code == 202 and r.headers["location"] == f"/api/v1/jobs/{r.json()['id']}"
    deadline = time.monotonic() + 60
    while True:
        job = client.get(r.headers["location"], headers=tax).json()
        assert 0.0 <= job["progress"] <= 1.0
        if job["done"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert job["stage"] == "done" and job["check_id"] == 1 and job["error"] is None
    assert client.get("/api/v1/checks/1", headers=tax).json()["entry"]["input_name"] == xlsx.name
    other = _officer(service, "tax2", "tax_officer")
    assert client.get(r.headers["location"], headers=other).status_code == 404


def test_failed_job_says_why(client: TestClient, service: Service) -> None:
    tax = _officer(service, "tax1", "tax_officer")
    r = client.post("/api/v1/check/upload", files={"file": ("broken.xlsx", b"not a workbook")},
                    data={"background": "true"}, headers=tax)
    for _ in range(200):
        job = client.get(r.headers["location"], headers=tax).json()
        if job["done"]:
            break
        time.sleep(0.05)
    assert job["stage"] == "failed" and "broken.xlsx：不是可读取的 XLSX 工作簿" in job["error"]
    assert service.log.search()[0] == 0


# ------------------------------------------------------------------------------------------------ pages

def test_security_headers_everywhere(client: TestClient) -> None:
    for url in ("/", "/self", "/api/v1/rules", "/no-such-page", "/api/v1/none", "/static/app.js", "/docs"):
        r = client.get(url)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert client.get("/no-such-page").headers["content-type"].startswith("text/html")


def test_pages_have_no_inline_script_or_remote_resource(client: TestClient) -> None:
    import re

    for url in ("/", "/self", "/login", "/docs"):
        html = client.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html), url
        assert not re.search(r"(src|href)=\"(https?:)?//", html), url
        assert " on" + "click=" not in html and "style=" not in html


def test_page_posts_need_the_csrf_token(client: TestClient, service: Service) -> None:
    service.accounts.add("tax1", "tax_officer", PASSWORD)
    client.get("/login")
    r = client.post("/login", data={"username": "tax1", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text
    token = client.cookies.get("cj_csrf")
    r = client.post("/login", data={"username": "tax1", "password": "wrong password", "csrf": token})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    r = client.post("/login", data={"username": "tax1", "password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/officer"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_officer_pages_upload_detail_report_history_replay(client: TestClient, service: Service) -> None:
    assert client.get("/officer", follow_redirects=False).headers["location"].startswith("/login")
    service.accounts.add("fin1", "finance_officer", PASSWORD, "李四")
    client.get("/login")
    csrf = client.cookies.get("cj_csrf")
    client.post("/login", data={"username": "fin1", "password": PASSWORD, "csrf": csrf})
    assert "李四" in client.get("/officer").text
    folder = EXAMPLES / "tonghua-finance-bureau"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in folder.glob("*.csv"):
            z.write(f, f.name)
    r = client.post("/officer/check", files={"file": ("tonghua.zip", buf.getvalue())},
                    data={"as_of": AS_OF, "csrf": csrf, "params": "certificate_subsidy_amount=1500"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/officer/checks/1"
    page = client.get("/officer/checks/1").text
    assert "tonghua.school_subsidy" in page and "（测算值）" in page and "下载报表" in page
    filtered = client.get("/officer/checks/1", params={"status": "eligible", "rule": "tonghua.school_subsidy"}).text
    assert "不符合条件</span>" not in filtered
    report = client.get("/officer/checks/1/report.xlsx")
    assert report.status_code == 200 and report.content[:2] == b"PK"
    assert "tonghua.zip" in client.get("/officer/checks").text
    assert "tonghua.zip" not in client.get("/officer/checks", params={"user": "someone"}).text
    replay = client.post("/officer/checks/1/replay", data={"csrf": csrf})
    assert replay.status_code == 200 and "完全一致" in replay.text
    assert service.log.verify()[0] == 2


# ------------------------------------------------------------------------------------------------ self-assessment

TONGHUA = {"id": "91220502MA0Y0A0133", "name": "通化东宝药业股份有限公司", "region_code": "220502"}


def test_interview_asks_only_for_facts_that_decide(service: Service) -> None:
    day = dt.date(2021, 12, 31)
    first = assess(service, "tonghua-2019", {}, day)
    assert first.document is None and first.show == ["id", "name", "region_code", "fiscal_year"]
    second = assess(service, "tonghua-2019", TONGHUA, day)
    assert set(second.ask) == {"education_fund", "total_wages", "frontline_training_spend", "is_key_enterprise"}
    assert {d["status"] for d in second.decisions} == {"undetermined"}
    third = assess(service, "tonghua-2019", {**TONGHUA, "total_wages": "55800000", "education_fund": "820000",
                                             "frontline_training_spend": "480000", "is_key_enterprise": "false"}, day)
    assert third.ask == [] and "undetermined" not in {d["status"] for d in third.decisions}
    share = next(d for d in third.decisions if d["rule_id"] == "tonghua.frontline_share")
    assert share["status"] == "non_compliant" and share["gaps"] == ["一线培训经费还需增加 ¥12,000.00 才达到 60%"]
    wrong = assess(service, "tonghua-2019", {**TONGHUA, "id": "91220502MA0Y0A0134"}, day)
    assert "id" in wrong.field_errors and "校验码为“4”，应为“3”" in wrong.field_errors["id"]


def test_interview_decisions_equal_the_library_on_the_same_data(service: Service, checker: Checker,
                                                                tmp_path: Path) -> None:
    facts = {**TONGHUA, "total_wages": "1000000", "education_fund": "15000", "frontline_training_spend": "9000",
             "is_key_enterprise": "true"}
    a = assess(service, "tonghua-2019", facts, dt.date(2021, 12, 31))
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"enterprises": [{**facts, "is_key_enterprise": True}]}), encoding="utf-8")
    expected = [d for d in _library(checker, path)["decisions"] if d["rule_id"].startswith("tonghua.")]
    keys = ("rule_id", "subject_id", "status", "amount", "reasons", "missing_facts", "citation")
    assert [{k: d[k] for k in keys} for d in a.decisions] == [{k: d[k] for k in keys} for d in expected]


def test_self_pages_update_download_and_save(client: TestClient, service: Service) -> None:
    import openpyxl

    page = client.get("/self")
    assert page.status_code == 200 and "企业自评" in page.text
    csrf = client.cookies.get("cj_csrf")
    form = {"csrf": csrf, "pack": "tonghua-2019", "as_of": AS_OF, **TONGHUA}
    r = client.post("/self/update", data=form)
    assert r.status_code == 200 and "education_fund" in r.json()["ask"] and "无法判定" in r.json()["html"]
    assert client.post("/self/update", data={**form, "csrf": "x"}).status_code == 403
    r = client.post("/self/report", data={**form, "education_fund": "820000", "total_wages": "55800000"})
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert {"decisions", "决定"} & set(wb.sheetnames)  # the report's decisions sheet
    assert service.log.search()[0] == 0  # nothing an enterprise enters is stored unless it saves
    import sqlalchemy as sa

    from engine.service.db import saved_assessments

    def stored() -> int:
        with service.db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(saved_assessments)).scalar_one())

    assert stored() == 0
    saved = client.post("/self/save", data={**form, "education_fund": "820000"})
    link = saved.text.split('id="saved-link" href="')[1].split('"')[0]
    assert stored() == 1
    again = client.get(link)
    assert again.status_code == 200 and 'value="820000"' in again.text
    assert client.get("/self/saved/not-a-token").status_code == 404
    xlsx = EXAMPLES / "yichang-enterprise-2021.xlsx"
    up = client.post("/self/upload", files={"file": (xlsx.name, xlsx.read_bytes())}, data={"csrf": csrf, "as_of": AS_OF})
    assert up.status_code == 200 and "yichang.intern_pay_deduction" in up.text


def test_docs_and_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/check" in spec["paths"] and "/api/v1/checks/{seq}/replay" in spec["paths"]
    assert "POST /api/v1/check/upload" in client.get("/docs").text


def test_explain_a_logged_decision_api_and_page(client: TestClient, service: Service) -> None:
    tax = _officer(service, "tax1", "tax_officer")
    _json_check(client, EXAMPLES / "tonghua-self-assessment.json", tax)
    params = {"rule": "tonghua.frontline_share", "subject": "91220502MA0Y0A0133"}
    trace = client.get("/api/v1/checks/1/explain", params=params, headers=tax).json()
    assert trace["gaps"] == ["一线培训经费还需增加 ¥12,000.00 才达到 60%"]
    assert client.get("/api/v1/checks/1/explain", params=params).status_code == 401
    client.get("/login")
    client.post("/login", data={"username": "tax1", "password": PASSWORD, "csrf": client.cookies.get("cj_csrf")})
    assert "/officer/checks/1/explain?rule=tonghua.frontline_share" in client.get("/officer/checks/1").text
    page = client.get("/officer/checks/1/explain", params=params)
    assert page.status_code == 200 and "一线培训经费还需增加 ¥12,000.00 才达到 60%" in page.text
    assert "用于一线职工教育和培训的比例不低于职工教育经费60%" in page.text


def test_hostile_text_is_escaped_in_pages(client: TestClient, service: Service, tmp_path: Path) -> None:
    tax = _officer(service, "tax1", "tax_officer")
    doc = {"enterprises": [{"id": "91220502MA0Y0A0133", "name": "<script>alert(1)</script>", "region_code": "220502"}],
           "<img src=x onerror=alert(1)>": []}
    r = client.post("/api/v1/check", content=json.dumps(doc).encode(), headers={**tax, "Content-Type": "application/json"},
                    params={"as_of": AS_OF})
    assert r.status_code == 200
    client.get("/login")
    client.post("/login", data={"username": "tax1", "password": PASSWORD, "csrf": client.cookies.get("cj_csrf")})
    page = client.get("/officer/checks/1").text
    assert "<img src=x" not in page and "<script>alert" not in page


def test_nothing_evaluated_carries_the_records_errors(client: TestClient, service: Service,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.errors import FatalError

    def nothing(*_a: Any, **_k: Any) -> Any:
        raise FatalError("nothing could be decided: every record was rejected")

    monkeypatch.setattr(service.checker, "check", nothing)
    r = _json_check(client, EXAMPLES / "bad-records.json")
    assert r.status_code == 422 and r.json()["detail"] == "nothing could be decided: every record was rejected"
    assert r.json()["errors"] and all("message" in e for e in r.json()["errors"])


def test_interview_takes_agreements(service: Service, checker: Checker, tmp_path: Path) -> None:
    """A Yichang enterprise with a valid agreement is then asked the recognition criteria it has not answered."""
    day = dt.date(2021, 12, 31)
    base = {"id": "91420502MA4F0A013J", "name": "宜昌测试企业", "region_code": "420502"}
    before = assess(service, "yichang-2020", base, day)
    assert [d["status"] for d in before.decisions] == ["not_eligible"] and before.ask == []
    facts = {**base, "agreement_1_school_id": "YC-ZZ01", "agreement_1_signed_on": "2020-09-01"}
    after = assess(service, "yichang-2020", facts, day)
    assert [d["status"] for d in after.decisions] == ["undetermined"]
    assert after.ask == ["outstanding_cooperation_results", "values_employee_training", "leading_role",
                         "strong_overall_strength"]
    done = assess(service, "yichang-2020", {**facts, **{k: "true" for k in after.ask}}, day)
    assert [d["status"] for d in done.decisions] == ["eligible"]
    bad = assess(service, "yichang-2020", {**facts, "agreement_1_signed_on": "2020-02-30"}, day)
    assert "agreement_1_signed_on" in bad.field_errors


def test_password_guessing_is_throttled(service: Service) -> None:
    service.accounts.add("tax1", "tax_officer", PASSWORD)
    for _ in range(5):
        assert service.accounts.login("tax1", "guess") is None
    assert service.accounts.login("tax1", PASSWORD) is None  # locked out for a minute, even with the password
    assert service.accounts.login("other", PASSWORD) is None
    service.accounts.throttle.seconds = 0
    assert service.accounts.login("tax1", PASSWORD) is not None


@pytest.mark.parametrize("engine", ["durable", "vectorised"])
def test_every_engine_gives_the_service_the_same_document(tmp_path: Path, checker: Checker, engine: str) -> None:
    from engine.service.checking import Upload

    path = EXAMPLES / "yichang-enterprise-2021.xlsx"
    svc = Service(Settings(data_dir=tmp_path, engine=engine), checker=checker)
    got = svc.check(Upload(path.name, path.read_bytes()), as_of=dt.date(2021, 12, 31))
    svc.close()
    assert got.result.engine in (engine, "reference")  # durable's crash fallback is the reference, said in notes
    assert got.result.document == _library(checker, path)
    auto = Service(Settings(data_dir=tmp_path), checker=checker)
    assert auto.engine_for(1000) == "reference" and auto.engine_for(10**9) == "vectorised"
    auto.close()


def test_users_and_serve_commands(tmp_path: Path) -> None:
    import os
    import socket

    chanjiao = str(Path(sys.executable).parent / "chanjiao")
    env = {**os.environ, "CHANJIAO_DATA": str(tmp_path)}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([chanjiao, *args, "--lang", "zh"], input=stdin, text=True, capture_output=True, env=env, timeout=120)

    assert run("users", "add", "wang", "--role", "finance_officer", "--name", "王五", "--password-stdin",
               stdin=PASSWORD + "\n").stdout == "added wang (finance_officer)\n"
    dup = run("users", "add", "wang", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert dup.returncode == 2 and dup.stderr == "chanjiao: 错误：用户“wang”已存在\n"
    weak = run("users", "add", "li", "--role", "admin", "--password-stdin", stdin="short\n")
    assert weak.returncode == 2 and "密码至少需要 10 个字符" in weak.stderr
    token = run("users", "token", "wang").stdout.strip()
    assert token.startswith("cj_")
    svc = Service(Settings(data_dir=tmp_path))
    assert svc.accounts.by_token(token).username == "wang"
    import sqlite3  # (not the file's bytes: closing a descriptor of the file would drop the open connection's locks)

    with sqlite3.connect(tmp_path / "chanjiao.db") as db:
        stored = [str(v) for row in db.execute("SELECT * FROM api_tokens") for v in row]
    assert stored and not any(token.split("_", 2)[2] in v for v in stored)  # only the secret's hash is stored
    assert any(v.startswith("$argon2id$") for v in stored)
    assert "wang                     finance_officer  enabled   王五" in run("users", "list").stdout
    off = run("users", "disable", "wang")
    assert off.returncode == 0, off.stderr
    listed = run("users", "list").stdout
    assert svc.accounts.by_token(token) is None and "disabled" in listed, listed
    assert run("users", "token", "nobody").stderr == "chanjiao: 错误：没有用户“nobody”\n"
    svc.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = run("serve", "--port", str(s.getsockname()[1]))
    assert taken.returncode == 2 and taken.stderr.startswith("chanjiao: 错误：无法在 127.0.0.1:")


def test_audit_page_for_administrators_only(client: TestClient, service: Service) -> None:
    service.accounts.add("tax1", "tax_officer", PASSWORD)
    service.accounts.add("boss", "admin", PASSWORD)
    client.get("/login")
    csrf = client.cookies.get("cj_csrf")
    client.post("/login", data={"username": "tax1", "password": PASSWORD, "csrf": csrf})
    assert client.get("/officer/audit").status_code == 403
    client.post("/logout", data={"csrf": csrf})
    client.post("/login", data={"username": "boss", "password": PASSWORD, "csrf": csrf})
    page = client.get("/officer/audit")
    assert page.status_code == 200 and "0 条记录，哈希链完整" in page.text and "0" * 64 in page.text


def test_english_on_request(client: TestClient, checker: Checker) -> None:
    path = EXAMPLES / "bad-records.json"
    zh = _json_check(client, path).json()["document"]
    en = _json_check(client, path, lang="en").json()["document"]
    assert [d["status"] for d in zh["decisions"]] == [d["status"] for d in en["decisions"]]
    assert zh["errors"][0]["message"] != en["errors"][0]["message"] and "check character" in en["errors"][0]["message"]
    r = client.post("/api/v1/check", content=b"[1]", params={"lang": "en"}, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].isascii()
    r = client.post("/api/v1/check", content=b'{"enterprises": [{"id": "x"}]}', params={"lang": "en"},
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"].startswith("no record could be decided") or r.json()["detail"].isascii()
    assert r.json()["errors"] and r.json()["errors"][0]["record_type"] == "enterprises"
    assert client.post("/api/v1/check", content=b"{}", params={"lang": "fr"},
                       headers={"Content-Type": "application/json"}).status_code == 422


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("officer", [False, True])
@pytest.mark.parametrize("example", ["tonghua-self-assessment.json", "bad-records.json"])
def test_the_answer_is_the_library_document_and_the_logged_bytes(client: TestClient, service: Service,
                                                                   checker: Checker, tmp_path: Path, example: str,
                                                                   officer: bool, lang: str) -> None:
    """The answer is compact JSON as JSONResponse writes it, its document the library's in ``lang``; in Chinese
    it carries the logged document's very bytes (serialised once, for the log and the answer)."""
    from starlette.responses import JSONResponse

    from engine.messages import localise

    path = tmp_path / "dataset.json"  # a JSON body is read as "dataset.json": places in messages name it so
    path.write_bytes((EXAMPLES / example).read_bytes())
    headers = _officer(service, "tax1", "tax_officer") if officer else {}
    r = _json_check(client, path, headers, lang=lang)
    assert r.status_code == 200, r.text
    fields = r.json()
    assert r.content == JSONResponse(fields).body  # the bytes JSONResponse would send for these fields
    expected = localise(checker.check(path, as_of=dt.date(2021, 12, 31), lang=lang).document, lang)
    assert fields["document"] == json.loads(json.dumps(expected, ensure_ascii=False))
    assert list(fields) == ["check_id", "entry_hash", "engine", "notes", "exit_code", "document"]
    rows = list(service.log.rows())
    assert len(rows) == (1 if officer else 0) and (fields["check_id"] is not None) == officer
    if officer:
        logged = zlib.decompress(rows[0][2])  # as before: decisions in Chinese, errors in the check's language
        library = checker.check(path, as_of=dt.date(2021, 12, 31), lang=lang).document
        assert json.loads(logged) == json.loads(json.dumps(library, ensure_ascii=False))
        if lang == "zh":
            assert r.content.endswith(b',"document":' + logged + b"}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_answer_bytes_render_messages_as_jsonresponse_did(service: Service, lang: str) -> None:
    """Catalogue messages anywhere in a document or its notes: the answer made from the logged bytes (Chinese) or
    localised (English) is byte for byte the JSONResponse of the fields with the document localised."""
    from starlette.responses import JSONResponse

    from engine.messages import localise, msg
    from engine.service.api import check_answer
    from engine.service.audit import document_bytes
    from engine.service.checking import Upload
    from engine.service.core import Checked

    service.accounts.add("tax1", "tax_officer", PASSWORD)
    checked = service.check(Upload("dataset.json", (EXAMPLES / "bad-records.json").read_bytes()),
                            as_of=dt.date(2021, 12, 31), user=service.accounts.get("tax1"))
    result = checked.result
    result.document["decisions"][0]["reason"] = msg("audit.problem", seq=1, problem=msg("audit.altered"))
    result.document["summary"]["note"] = [msg("audit.altered"), ("元组", msg("audit.unlinked"))]
    result.notes = [msg("cli.durable_crashed", problem="段错误")]
    checked = Checked(result, checked.entry, document_bytes(result.document))
    old = JSONResponse({"check_id": checked.entry.seq, "entry_hash": checked.entry.entry_hash,
                        "engine": result.engine, "notes": localise(result.notes, lang),
                        "exit_code": result.exit_code, "document": localise(result.document, lang)}).body
    assert check_answer(checked, lang) == old
    assert ("its fields do not match its hash" in old.decode()) == (lang == "en")


def test_officer_page_large_upload_runs_as_a_job(tmp_path: Path, checker: Checker) -> None:
    svc = Service(Settings(data_dir=tmp_path, job_threshold_bytes=100), checker=checker)
    svc.accounts.add("tax1", "tax_officer", PASSWORD)
    with TestClient(create_app(svc.settings, service=svc), raise_server_exceptions=False) as c:
        c.get("/login")
        csrf = c.cookies.get("cj_csrf")
        c.post("/login", data={"username": "tax1", "password": PASSWORD, "csrf": csrf})
        xlsx = EXAMPLES / "yichang-enterprise-2021.xlsx"
        r = c.post("/officer/check", files={"file": (xlsx.name, xlsx.read_bytes())},
                   data={"as_of": AS_OF, "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/officer/jobs/")
        for _ in range(600):
            page = c.get(r.headers["location"], follow_redirects=False)
            if page.status_code == 303:
                break
            assert '<meta http-equiv="refresh" content="1">' in page.text and "<progress" in page.text
            time.sleep(0.05)
        assert page.headers["location"] == "/officer/checks/1"
    svc.close()


def test_a_period_is_decided_logged_and_replayed(client: TestClient, service: Service) -> None:
    pytest.importorskip("engine.run.periods", reason="periods arrive with the XLSX report work")
    tax = _officer(service, "tax1", "tax_officer")
    xlsx = EXAMPLES / "yichang-enterprise-2021.xlsx"
    r = client.post("/api/v1/check/upload", files={"file": (xlsx.name, xlsx.read_bytes())},
                    data={"as_of": AS_OF, "period": "2021Q1"}, headers=tax)
    assert r.status_code == 200, r.text
    assert r.json()["document"]["period"] == {"from": "2021-01-01", "to": "2021-03-31"} or \
        r.json()["document"]["period"]["from"] == "2021-01-01"
    entry = client.get("/api/v1/checks/1", headers=tax).json()["entry"]
    assert entry["period"] == r.json()["document"]["period"] and entry["period_text"] == "2021Q1"
    assert client.post("/api/v1/checks/1/replay", headers=tax).json()["differences"]["same"] is True
    bad = client.post("/api/v1/check/upload", files={"file": (xlsx.name, xlsx.read_bytes())},
                      data={"period": "2021Q5"}, headers=tax)
    assert bad.status_code == 422 and "2021Q5" in bad.json()["detail"]

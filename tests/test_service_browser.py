"""The pages in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against a real server.

Proves: an enterprise completes the self-assessment interview — the page asks for the facts an undetermined
decision needs, the decisions update as they are typed and end equal to the library's (``chanjiao check``'s)
on the same data, and the XLSX result downloads; an officer logs in, uploads a workbook, sees its decisions and
downloads the report. Screenshots (desktop and phone width) are saved in ``test-artifacts/screenshots`` (or
``$CHANJIAO_TEST_ARTIFACTS``). Without Chromium the tests skip locally and fail in CI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("fastapi")

from engine.run import Checker  # noqa: E402
from engine.service import Settings, create_app  # noqa: E402
from engine.service.core import Service  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
ARTIFACTS = Path(os.environ.get("CHANJIAO_TEST_ARTIFACTS", REPO / "test-artifacts")) / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("true", "1")
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        if IN_CI:
            pytest.fail("Chromium or Playwright is missing (.ci/run installs Debian's chromium; pip installs playwright)")
        pytest.skip("the system's Chromium (apt-get install chromium) or the playwright package is missing")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Service]]:
    """A real uvicorn server on a free loopback port, with a fresh SQLite database."""
    import uvicorn

    svc = Service(Settings(data_dir=tmp_path))
    app = create_app(svc.settings, service=svc)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}", svc
    srv.should_exit = True
    thread.join(timeout=10)
    svc.close()


def _shot(page: Any, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 1000
    return path


def _decision_rows(path: Path, doc: dict[str, Any]) -> int:
    """Rows of the report's decisions sheet (named decisions, or 决定 in the full report) that hold a decision."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb["decisions"] if "decisions" in wb.sheetnames else wb["决定"]
    rules = {d["rule_id"] for d in doc["decisions"]}
    return sum(1 for row in ws.iter_rows(values_only=True) if row and row[0] in rules)


def _cards(page: Any) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        "#results .decision", "els => els.map(e => [e.dataset.rule, e.dataset.status])")


def test_self_assessment_interview_in_chromium(browser: Any, server: tuple[str, Service], tmp_path: Path) -> None:
    base, _svc = server
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/self")
    _shot(page, "self-1-start")
    page.select_option("#pack", "tonghua-2019")
    assert page.input_value("#f-region_code") == "220500"  # the city's code, filled in by the page
    assert page.is_hidden("[data-field=education_fund]")  # not asked before anything needs it
    page.fill("#f-id", "91220502MA0Y0A0133")
    page.fill("#f-name", "通化东宝药业股份有限公司")
    page.fill("#f-region_code", "220502")
    page.fill("#f-fiscal_year", "2021")
    page.fill("input[name=as_of]", "2021-12-31")
    # the page now asks only for the facts that the undetermined decisions lack
    page.wait_for_selector("[data-field=education_fund]:not([hidden])", timeout=20_000)
    page.wait_for_function("() => document.querySelectorAll('#results .decision').length > 0")
    asked = page.eval_on_selector_all(".field:not([hidden])", "els => els.map(e => e.dataset.field)")
    assert set(asked) == {"id", "name", "region_code", "fiscal_year", "total_wages", "education_fund",
                          "frontline_training_spend", "is_key_enterprise"}
    assert {s for _r, s in _cards(page)} == {"undetermined"}
    _shot(page, "self-2-asks")
    page.fill("#f-total_wages", "55800000")
    page.fill("#f-education_fund", "820000")
    page.fill("#f-frontline_training_spend", "480000")
    page.select_option("#f-is_key_enterprise", "false")
    page.wait_for_function(
        "() => document.querySelectorAll('#results .decision').length > 0 && "
        "document.querySelectorAll('#results .decision[data-status=undetermined]').length === 0", timeout=20_000)
    time.sleep(0.5)  # let a last debounced update land
    page.wait_for_function("() => document.querySelectorAll('#results .decision[data-status=undetermined]').length === 0")
    shown = sorted(tuple(c) for c in _cards(page))
    # the same data through the library entry point that `chanjiao check` calls
    data = tmp_path / "same.json"
    data.write_text(json.dumps({"enterprises": [{
        "id": "91220502MA0Y0A0133", "name": "通化东宝药业股份有限公司", "region_code": "220502", "fiscal_year": "2021",
        "total_wages": "55800000", "education_fund": "820000", "frontline_training_spend": "480000",
        "is_key_enterprise": False}]}, ensure_ascii=False), encoding="utf-8")
    doc = Checker().check(data, as_of=dt.date(2021, 12, 31)).document
    expected = sorted((d["rule_id"], d["status"]) for d in doc["decisions"] if d["rule_id"].startswith("tonghua."))
    assert shown == expected
    text = page.inner_text("#results")
    assert "一线培训经费还需增加 ¥12,000.00 才达到 60%" in text  # how far from the threshold
    assert "用于一线职工教育和培训的比例不低于职工教育经费60%" in text  # the cited sentence
    _shot(page, "self-3-decided")
    with page.expect_download() as info:
        page.click("#download")
    path = tmp_path / "result.xlsx"
    info.value.save_as(path)
    assert _decision_rows(path, doc) == len(doc["decisions"])
    page.set_viewport_size(PHONE)
    _shot(page, "self-4-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1  # no sideways scrolling
    assert errors == []
    context.close()


def test_officer_upload_and_download_in_chromium(browser: Any, server: tuple[str, Service], tmp_path: Path) -> None:
    base, svc = server
    svc.accounts.add("tax1", "tax_officer", PASSWORD, "张三")
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    page.goto(base + "/officer")
    assert "/login" in page.url
    _shot(page, "officer-1-login")
    page.fill("input[name=username]", "tax1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/officer")
    workbook = EXAMPLES / "yichang-enterprise-2021.xlsx"
    page.set_input_files("#officer-upload input[name=file]", str(workbook))
    page.fill("#officer-upload input[name=as_of]", "2021-12-31")
    _shot(page, "officer-2-upload")
    page.click("#officer-upload button[type=submit]")
    page.wait_for_url(base + "/officer/checks/1")
    body = page.inner_text("main")
    assert "yichang.intern_pay_deduction" in body and "张三" not in body or "tax1" in body
    doc = Checker().check(workbook, as_of=dt.date(2021, 12, 31)).document
    rows = page.eval_on_selector_all(".decisions-table tbody tr", "els => els.length")
    assert rows == len(doc["decisions"])
    _shot(page, "officer-3-check")
    with page.expect_download() as info:
        page.click("#report")
    path = tmp_path / "report.xlsx"
    info.value.save_as(path)
    assert _decision_rows(path, doc) == len(doc["decisions"])
    page.set_viewport_size(PHONE)
    _shot(page, "officer-4-check-phone", full_page=False)
    page.evaluate("window.scrollTo(0, document.querySelector('.decisions-table').offsetTop - 80)")
    _shot(page, "officer-4b-decisions-phone", full_page=False)
    page.goto(base + "/officer/checks")
    assert workbook.name in page.inner_text("main")
    _shot(page, "officer-5-history-phone", full_page=False)
    assert svc.log.verify()[0] == 1
    context.close()

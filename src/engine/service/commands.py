"""``chanjiao serve``, ``chanjiao users …`` and ``chanjiao audit …``: thin commands over the service modules.

Heavy imports (FastAPI, SQLAlchemy, argon2) happen inside the commands, so ``chanjiao check`` starts as fast as
before. Errors are :class:`engine.errors.FatalError` (one line on stderr, exit 2), as everywhere in the CLI.
"""

from __future__ import annotations

import getpass
import json
import sys
import zlib
from pathlib import Path
from typing import Any, Optional

import typer

from engine.errors import FatalError
from engine.messages import msg

__all__ = ["serve", "users_app", "audit_app"]

users_app = typer.Typer(add_completion=False, rich_markup_mode=None,
                        help="Officer accounts of the web service: add, list, disable, issue API tokens.")
audit_app = typer.Typer(add_completion=False, rich_markup_mode=None,
                        help="The decision log: verify its hash chain, export it as JSON Lines.")

DatabaseOpt = typer.Option(None, "--database", help="postgresql://… or sqlite:///…; default: the SQLite file "
                                                     "in the data directory ($CHANJIAO_DATA, else ~/.local/share/chanjiao).")


def _settings(database: Optional[str], **extra: Any) -> Any:
    from engine.service.settings import Settings

    return Settings(database_url=database, **extra)


def _db(database: Optional[str]) -> Any:
    from engine.service.db import make_engine, migrate

    try:
        engine = make_engine(_settings(database).url())
        migrate(engine)
    except Exception as exc:  # noqa: BLE001 - a database that cannot be opened is one line
        if isinstance(exc, FatalError):
            raise
        raise FatalError(msg("serve.database", error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")) from None
    return engine


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    database: Optional[str] = DatabaseOpt,
    rules: Optional[list[Path]] = typer.Option(None, "--rules", help="A rule pack folder to add (repeatable)."),
    engine: str = typer.Option("auto", "--engine",
                               help="auto (the reference evaluator for small inputs, vectorised above 20 MB), "
                                    "durable, reference or vectorised; the decisions are identical."),
    workers: int = typer.Option(1, "--workers", min=0,
                                help="uvicorn worker processes; they share the database (the SQLite file on one "
                                     "machine, PostgreSQL across machines). 0: one per core. One process decides "
                                     "one check at a time; use one per core for throughput (jobs stay in the "
                                     "worker that took them)."),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark cookies Secure (behind HTTPS)."),
) -> None:
    """Run the web API and pages (FastAPI on uvicorn); packs loaded once, the database migrated at start."""
    import os

    import uvicorn

    from engine.service.app import create_app
    from engine.service.serving import default_workers, http_protocol

    settings = _settings(database, rules=tuple(rules or ()), engine=engine, secure_cookies=secure_cookies)
    _can_listen(host, port)
    workers = workers or default_workers()
    if workers > 1:  # each worker builds its own app from these settings
        settings.url()  # the data directory exists before the workers race to create it
        os.environ["CHANJIAO_SERVE_SETTINGS"] = json.dumps({"database_url": settings.database_url,
                                                            "rules": [str(r) for r in settings.rules],
                                                            "engine": engine, "secure_cookies": secure_cookies})
        uvicorn.run("engine.service.commands:worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level="info", http=http_protocol())
        return
    from engine.service.core import Service

    try:
        service = Service(settings)
    except FatalError:
        raise
    except Exception as exc:  # noqa: BLE001 - a database that cannot be opened is one line
        raise FatalError(msg("serve.database", error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")) from None
    app = create_app(settings, service=service)
    print(f"chanjiao: serving on http://{host}:{port}/ (database {settings.url().split('@')[-1]})", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="info", http=http_protocol())


def _can_listen(host: str, port: int) -> None:
    """FatalError in one line when the address is taken or not ours (before loading anything)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(infos[0][4])
    except OSError as exc:
        raise FatalError(msg("serve.listen", host=host, port=port, error=exc.strerror or str(exc))) from None


def worker_app() -> Any:
    """The app of one uvicorn worker process (``serve --workers N``), built from the parent's settings."""
    import os

    from engine.service.app import create_app
    from engine.service.settings import Settings

    raw = json.loads(os.environ["CHANJIAO_SERVE_SETTINGS"])
    return create_app(Settings(database_url=raw["database_url"], rules=tuple(Path(r) for r in raw["rules"]),
                               engine=raw["engine"], secure_cookies=raw["secure_cookies"]))


def _accounts(database: Optional[str]) -> Any:
    from engine.service.auth import Accounts

    return Accounts(_db(database))


@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(..., "--role", help="tax_officer, finance_officer or admin."),
    name: Optional[str] = typer.Option(None, "--name", help="Display name, e.g. 张三."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    database: Optional[str] = DatabaseOpt,
) -> None:
    """Create an officer account (the password is asked for, or read from stdin)."""
    from engine.service.auth import AccountError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise FatalError(msg("users.passwords_differ"))
    try:
        user = _accounts(database).add(username, role, password, name)
    except AccountError as exc:
        raise FatalError(str(exc)) from None
    print(f"added {user.username} ({user.role})")


@users_app.command("list")
def users_list(database: Optional[str] = DatabaseOpt) -> None:
    """List the accounts: name, role, display name, enabled or disabled."""
    for u in _accounts(database).list():
        print(f"{u.username:<24} {u.role:<16} {'disabled' if u.disabled else 'enabled':<9} {u.display_name}")


@users_app.command("disable")
def users_disable(username: str = typer.Argument(...), database: Optional[str] = DatabaseOpt) -> None:
    """Disable an account: its sessions end and its API tokens stop working at once."""
    from engine.service.auth import AccountError

    try:
        _accounts(database).disable(username)
    except AccountError as exc:
        raise FatalError(str(exc)) from None
    print(f"disabled {username}")


@users_app.command("token")
def users_token(username: str = typer.Argument(...), database: Optional[str] = DatabaseOpt) -> None:
    """Issue a new API token for the account; it is printed once and stored only as an argon2 hash."""
    from engine.service.auth import AccountError

    try:
        print(_accounts(database).new_token(username))
    except AccountError as exc:
        raise FatalError(str(exc)) from None


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, database: Optional[str] = DatabaseOpt,
                 expect_head: Optional[str] = typer.Option(None, "--expect-head",
                                                           help="The head hash recorded earlier: also detects "
                                                                "entries removed from the end.")) -> None:
    """Check the decision log's hash chain; exit 1 and name each altered, removed or reordered entry."""
    from engine.messages import default_lang, render
    from engine.service.audit import DecisionLog

    lang = ctx.obj if ctx.obj in ("zh", "en") else default_lang()
    log = DecisionLog(_db(database))
    count, head, found = log.verify()
    problems = [p.text(lang) for p in found]
    if expect_head and not problems and not log.contains(expect_head):
        problems.append(render(msg("audit.head_missing", head=expect_head), lang))
    for p in problems:
        print(f"chanjiao: audit: {p}", file=sys.stderr)
    if problems:
        print(render(msg("audit.broken", count=count, n=len(problems)), lang))
        raise typer.Exit(1)
    print(render(msg("audit.intact", count=count, head=head), lang))


@audit_app.command("export")
def audit_export(output: Optional[Path] = typer.Option(None, "--output", help="Write here instead of stdout."),
                 with_input: bool = typer.Option(True, "--with-input/--without-input",
                                                 help="Include each entry's input (base64 of its bytes)."),
                 database: Optional[str] = DatabaseOpt) -> None:
    """Write the decision log as JSON Lines: each entry, its decision document, and (by default) its input."""
    import base64

    from engine.service.audit import DecisionLog

    log = DecisionLog(_db(database))
    target = open(output, "w", encoding="utf-8") if output else sys.stdout
    try:
        for entry, input_blob, document_blob in log.rows():
            line = entry.as_dict()
            line["document"] = json.loads(zlib.decompress(document_blob))
            if with_input:
                line["input_base64"] = base64.b64encode(zlib.decompress(input_blob)).decode("ascii")
            target.write(json.dumps(line, ensure_ascii=False) + "\n")
    finally:
        if output:
            target.close()

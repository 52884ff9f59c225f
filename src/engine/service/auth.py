"""Officer accounts: roles, argon2 password and API-token hashes, bearer tokens and page sessions.

Passwords and API tokens are stored only as argon2id hashes. An API token is ``cj_<id>_<secret>``: the id finds
its row, the secret is verified against the row's argon2 hash (a successful verification is remembered for a
minute by the token's SHA-256, so a busy client does not pay argon2 on every call; revocation and disabling are
read from the database on every call all the same). A page session is a random 256-bit cookie whose SHA-256 is
stored with its expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

from engine.messages import msg
from engine.service.db import api_tokens, sessions, users, writing

__all__ = ["ROLES", "ROLE_LABELS", "User", "AccountError", "Accounts", "LoginThrottle"]

ROLES = ("tax_officer", "finance_officer", "admin")
ROLE_LABELS = {"tax_officer": "税务干部", "finance_officer": "财政干部", "admin": "管理员"}
USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MIN_PASSWORD = 10
TOKEN_CACHE_SECONDS = 60.0


class AccountError(Exception):
    """A refused account operation (unknown user, bad role, weak password); the message says which."""


@dataclass(frozen=True)
class User:
    """An officer as the service sees one."""

    id: int
    username: str
    display_name: str
    role: str
    disabled: bool

    @property
    def role_label(self) -> str:
        """The role in Chinese."""
        return ROLE_LABELS.get(self.role, self.role)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _user(row: sa.Row) -> User:
    return User(row.id, row.username, row.display_name, row.role, bool(row.disabled))


class LoginThrottle:
    """Slows password guessing: after ``limit`` failures for a user name, refuse it for ``seconds`` (in memory)."""

    def __init__(self, limit: int = 5, seconds: float = 60.0):
        self.limit = limit
        self.seconds = seconds
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def blocked(self, username: str) -> bool:
        """True while the user name is locked out."""
        with self._lock:
            count, since = self._failures.get(username, (0, 0.0))
            if count >= self.limit and time.monotonic() - since < self.seconds:
                return True
            if count >= self.limit:
                del self._failures[username]
            return False

    def failed(self, username: str) -> None:
        """Count a failed login."""
        with self._lock:
            count, _since = self._failures.get(username, (0, 0.0))
            self._failures[username] = (count + 1, time.monotonic())
            if len(self._failures) > 10_000:  # bounded memory
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, username: str) -> None:
        """Forget the failures of a user who logged in."""
        with self._lock:
            self._failures.pop(username, None)


# a token's row with its user, built once (compiled once and cached; it runs on every bearer-token call)
_TOKEN_ROW = (sa.select(api_tokens.c.token_hash, api_tokens.c.revoked, users)
              .join(users, users.c.id == api_tokens.c.user_id).where(api_tokens.c.id == sa.bindparam("token_id")))


class Accounts:
    """Users, tokens and sessions in one database (an object the service owns; no global state)."""

    def __init__(self, engine: Engine, session_hours: int = 8):
        self.engine = engine
        self.session_hours = session_hours
        self.hasher = PasswordHasher()
        self._verified: dict[str, tuple[float, str]] = {}  # sha256(token) -> (when verified, token id)
        self._lock = threading.Lock()
        # one argon2 verification at a time per token id: concurrent calls with a token not (or no longer) in the
        # cache wait for the first one's answer instead of each paying argon2 (64 MiB, tens of ms) at once
        self._verifying: dict[str, threading.Lock] = {}
        self.throttle = LoginThrottle()

    # -- users -------------------------------------------------------------------------------------------------

    def add(self, username: str, role: str, password: str, display_name: str | None = None) -> User:
        """Create an officer; :class:`AccountError` for a taken name, unknown role or short password."""
        if not USERNAME.fullmatch(username):
            raise AccountError(msg("users.bad_name", name=username))
        if role not in ROLES:
            raise AccountError(msg("users.bad_role", role=role, roles=", ".join(ROLES)))
        if len(password) < MIN_PASSWORD:
            raise AccountError(msg("users.short_password", min=MIN_PASSWORD))
        with writing(self.engine).begin() as conn:
            if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
                raise AccountError(msg("users.exists", name=username))
            conn.execute(users.insert().values(
                username=username, display_name=display_name or username, role=role,
                password_hash=self.hasher.hash(password), disabled=False, created_at=_now().isoformat()))
        found = self.get(username)
        assert found is not None
        return found

    def get(self, username: str) -> User | None:
        """The user with this name, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        return _user(row) if row else None

    def list(self) -> list[User]:
        """Every user, by name."""
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.username))]

    def disable(self, username: str) -> User:
        """Disable a user: their sessions end and their tokens stop working at once."""
        with writing(self.engine).begin() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
            if row is None:
                raise AccountError(msg("users.no_user", name=username))
            conn.execute(users.update().where(users.c.id == row.id).values(disabled=True))
            conn.execute(sessions.delete().where(sessions.c.user_id == row.id))
            conn.execute(api_tokens.update().where(api_tokens.c.user_id == row.id).values(revoked=True))
        with self._lock:
            self._verified.clear()
        user = self.get(username)
        assert user is not None
        return user

    def login(self, username: str, password: str) -> User | None:
        """The user when the password is right and the account enabled; None otherwise (same time either way).

        After five failures in a row a user name is refused for a minute, whatever the password.
        """
        if self.throttle.blocked(username):
            return None
        user = self._login(username, password)
        if user is None:
            self.throttle.failed(username)
        else:
            self.throttle.succeeded(username)
        return user

    def _login(self, username: str, password: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        stored = row.password_hash if row else self._dummy_hash()
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        return _user(row)

    _dummy: str | None = None

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    # -- API tokens --------------------------------------------------------------------------------------------

    def new_token(self, username: str) -> str:
        """A new API token for the user, shown once; only its argon2 hash is stored."""
        user = self.get(username)
        if user is None:
            raise AccountError(msg("users.no_user", name=username))
        if user.disabled:
            raise AccountError(msg("users.disabled", name=username))
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with writing(self.engine).begin() as conn:
            conn.execute(api_tokens.insert().values(id=token_id, user_id=user.id, token_hash=self.hasher.hash(secret),
                                                    created_at=_now().isoformat(), revoked=False))
        return f"cj_{token_id}_{secret}"

    def by_token(self, token: str) -> User | None:
        """The enabled user a valid, unrevoked token belongs to, or None."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "cj" or not re.fullmatch(r"[0-9a-f]{16}", parts[1]):
            return None
        token_id, secret = parts[1], parts[2]
        with self.engine.connect() as conn:  # revocation and disabling: read on every call
            row = conn.execute(_TOKEN_ROW, {"token_id": token_id}).first()
        if row is None or row.revoked or row.disabled:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        if not self._recently_verified(key, token_id):
            with self._lock:  # token ids are the database's: the gates are as many as the tokens issued
                gate = self._verifying.setdefault(token_id, threading.Lock())
            with gate:
                if not self._recently_verified(key, token_id):  # another call may have verified it meanwhile
                    try:
                        self.hasher.verify(row.token_hash, secret)
                    except (VerifyMismatchError, VerificationError, InvalidHashError):
                        return None
                    with self._lock:
                        self._verified[key] = (time.monotonic(), token_id)
        return User(row.id, row.username, row.display_name, row.role, bool(row.disabled))

    def _recently_verified(self, key: str, token_id: str) -> bool:
        with self._lock:
            seen = self._verified.get(key)
        return seen is not None and seen[1] == token_id and time.monotonic() - seen[0] <= TOKEN_CACHE_SECONDS

    # -- page sessions -----------------------------------------------------------------------------------------

    def new_session(self, user: User) -> str:
        """A new session cookie value for the user (its SHA-256 is stored with the expiry)."""
        value = secrets.token_urlsafe(32)
        expires = _now() + dt.timedelta(hours=self.session_hours)
        with writing(self.engine).begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at < _now().isoformat()))
            conn.execute(sessions.insert().values(id_hash=hashlib.sha256(value.encode()).hexdigest(),
                                                  user_id=user.id, expires_at=expires.isoformat()))
        return value

    def by_session(self, value: str) -> User | None:
        """The enabled user of an unexpired session, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions.c.expires_at, users).join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.id_hash == hashlib.sha256(value.encode()).hexdigest())).first()
        if row is None or row.disabled or row.expires_at < _now().isoformat():
            return None
        return User(row.id, row.username, row.display_name, row.role, bool(row.disabled))

    def end_session(self, value: str) -> None:
        """Log out: forget the session."""
        with writing(self.engine).begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.id_hash == hashlib.sha256(value.encode()).hexdigest()))

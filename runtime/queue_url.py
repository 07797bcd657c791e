"""Where the queue lives: the progress CSV of a folder, or a PostgreSQL database named by a URL.

A database URL may carry a password (``postgresql://user:secret@host/db``). It is never printed or
handed to a worker in a file: ``without_password`` splits it off (workers get it in ``PGPASSWORD``,
which libpq reads), ``redacted`` is the URL as the operator may see it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
EXAMPLE = "postgresql://po:PASSWORD@db-pc:5432/parallel_orchestrator"


def is_database_url(text: str) -> bool:
    """True for a PostgreSQL URL (``postgresql://`` or ``postgres://``)."""
    return urlsplit(text.strip()).scheme.lower() in SCHEMES if "://" in text else False


def _netloc(user: str | None, host: str) -> str:
    return f"{user}@{host}" if user is not None else host


def _split(url: str) -> tuple[str | None, str | None, str]:
    """User, password and host[:port] of a URL's authority (user and password still quoted)."""
    netloc = urlsplit(url).netloc
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return None, None, netloc
    user, colon, password = userinfo.partition(":")
    return user, (password if colon else None), host


def _query(url: str, password: str | None) -> tuple[str, str]:
    """The query without ``password=`` (or with it as ``password``), and the password found there."""
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    found = next((v for k, v in pairs if k == "password"), "")
    kept = [(k, v) for k, v in pairs if k != "password"]
    if password is not None and found:
        kept.append(("password", password))
    return urlencode(kept, safe="*"), found


def without_password(url: str) -> tuple[str, str]:
    """The URL without its password (in the authority or as ``?password=``), and the password
    ("" if it had none)."""
    user, password, host = _split(url)
    query, in_query = _query(url, None)
    parts = urlsplit(url)
    if password is None and not in_query:
        return url, ""
    secret = unquote(password) if password is not None else in_query
    return urlunsplit(parts._replace(netloc=_netloc(user, host), query=query)), secret


def redacted(url: str) -> str:
    """The URL with its password shown as ``***``: for the console, logs and reports."""
    user, password, host = _split(url)
    query, in_query = _query(url, "***")
    if password is None and not in_query:
        return url
    parts = urlsplit(url)
    shown = _netloc(f"{user}:***", host) if password is not None else parts.netloc
    return urlunsplit(parts._replace(netloc=shown, query=query))

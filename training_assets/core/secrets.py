"""Credentials kept out of everything the pipeline writes or shows.

A URI such as `http://user:password@host:5000` or `postgresql://user:password@db/mlflow` names
its password; metadata, tags, logs, asset outputs and error messages must not. `redact_uri`
gives the form that is safe to show. `split_credentials` takes the user and password out of an
HTTP URI, so that a client can send them in a header (MLflow reads
MLFLOW_TRACKING_USERNAME/PASSWORD) and no message it prints can contain them.
"""

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry a secret in the URIs our services take.
_SECRET_PARAMS = re.compile(r"pass|secret|token|key|credential|signature", re.IGNORECASE)


def redact_uri(uri: str) -> str:
    """`uri` with the password of its user info and secret query values replaced by ***.

    Anything that is not a URI with a scheme (a plain path) is returned as it is.
    """
    text = str(uri)
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return MASK
    secret_query = any(
        _SECRET_PARAMS.search(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True)
    )
    if "@" not in parts.netloc and not secret_query:
        # Nothing to hide; rebuilding would also drop the empty host of sqlite:////path.
        return text
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    query = parts.query
    if query:
        query = urlencode(
            [
                (name, MASK if _SECRET_PARAMS.search(name) else value)
                for name, value in parse_qsl(query, keep_blank_values=True)
            ],
            safe="*",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """An HTTP(S) `uri` without its user info, and the user and password it named.

    Other URIs (a database URL, whose driver needs the password in it) come back unchanged.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return uri, None, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, unquote(user) or None, unquote(password) if password else None


def redact_config(value):
    """A copy of a config tree (dicts, lists, strings) with every URI in it redacted."""
    if isinstance(value, dict):
        return {key: redact_config(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_config(item) for item in value]
    if isinstance(value, str):
        return redact_uri(value)
    return value

"""The service's token: made on first start, kept where only this user can read it, and
asked of every request before anything else happens."""

import hmac
import os
import secrets
from pathlib import Path

from starlette.responses import JSONResponse

TOKEN_BYTES = 32


def load_or_create_token(path):
    """The token in `path`, made (secrets.token_urlsafe, file mode 0600) when the file is missing."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(TOKEN_BYTES) + "\n")
        os.replace(temp, path)
    elif os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # someone widened it; the token is only the user's
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise ValueError(f"the token file {path} holds no usable token: delete it and start the service again")
    return token


def bearer_matches(header_value, token):
    """True when an Authorization header carries exactly this token (compared in constant time)."""
    scheme, _, given = (header_value or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class RequireToken:
    """ASGI middleware: a request without the token gets 401 and reaches no route."""

    def __init__(self, app, token):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if bearer_matches(headers.get(b"authorization", b"").decode("latin-1"), self.token):
            return await self.app(scope, receive, send)
        refusal = JSONResponse({"error": "this service needs its token: send `Authorization: Bearer <token>` with "
                                         "the token from the service's token file"},
                               status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await refusal(scope, receive, send)

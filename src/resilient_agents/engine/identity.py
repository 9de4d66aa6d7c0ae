"""Request identity: restate-server signs every request it sends to a service, and the service checks the signature.

Without it, anyone who can reach a service's port can call its handlers directly (``POST /invoke/...``) and
bypass the engine: no journal, no exclusive lock per object key, no ingress gateway. With it, the engine signs
each request with an ed25519 private key (the invoker option ``request-identity-private-key-pem-file``) and the
service refuses, with HTTP 401, every request that does not carry a valid signature of a key it trusts.

Typical use (``resilient-agents up`` does all of this by itself)::

    identity = load_or_create_identity(data_dir)        # <data_dir>/request-identity.pem, mode 0600
    engine = RestateServer(EngineConfig(base_dir=data_dir, request_identity_key=identity.private_key_path))
    service = ServiceProcess("my_app:app", env=identity.service_env())

The service side reads :data:`IDENTITY_KEYS_ENV` (comma-separated ``publickeyv1_...`` keys) when the app is
loaded by ``python -m resilient_agents.engine.serve`` and wraps the app in :func:`require_request_identity`.
An app of your own can also pass the key to ``restate.app(..., identity_keys=[public_key])``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resilient_agents.errors import ConfigurationError

__all__ = [
    "ENGINE_PRIVATE_KEY_ENV",
    "IDENTITY_KEYS_ENV",
    "KEY_FILE_NAME",
    "RequestIdentity",
    "identity_keys_from_env",
    "load_or_create_identity",
    "public_key_string",
    "require_request_identity",
]

IDENTITY_KEYS_ENV = "RESILIENT_AGENTS_IDENTITY_KEYS"
"""Environment variable of a service process: the public keys (``publickeyv1_...``, comma-separated) whose
signatures it accepts. Set: unsigned requests are refused with 401. Unset or empty: no check."""

ENGINE_PRIVATE_KEY_ENV = "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"
"""restate-server's setting for the PEM file of the private key it signs requests with (``[worker.invoker]
request-identity-private-key-pem-file`` in its config file)."""

KEY_FILE_NAME = "request-identity.pem"
"""The private key's file name inside the directory given to :func:`load_or_create_identity`."""

_PUBLIC_KEY_PREFIX = "publickeyv1_"
_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_HEALTH_SUFFIX = "/health"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RequestIdentity:
    """An ed25519 key pair for request identity: the engine holds the private key file, services the public key."""

    private_key_path: Path
    """The PKCS#8 PEM file of the private key (mode 0600); give it to restate-server only."""

    public_key: str
    """The public key as Restate writes it: ``publickeyv1_`` followed by the base58 of the raw 32 bytes."""

    def engine_env(self) -> dict[str, str]:
        """The restate-server environment variable that makes it sign requests with this key.

        Returns:
            ``{ENGINE_PRIVATE_KEY_ENV: <absolute path of the PEM file>}``.
        """
        return {ENGINE_PRIVATE_KEY_ENV: str(self.private_key_path.absolute())}

    def service_env(self) -> dict[str, str]:
        """The service process's environment variable that makes it accept only requests signed with this key.

        Returns:
            ``{IDENTITY_KEYS_ENV: public_key}``.
        """
        return {IDENTITY_KEYS_ENV: self.public_key}


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as error:  # pragma: no cover - cryptography is a dependency
        raise ConfigurationError(
            "request identity needs the 'cryptography' package: pip install cryptography"
        ) from error
    return serialization, ed25519


def _base58(data: bytes) -> str:
    """Encode ``data`` in base58 (Bitcoin alphabet), as Restate's public key strings are."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[digit])
    leading = len(data) - len(data.lstrip(b"\0"))
    return _BASE58_ALPHABET[0] * leading + "".join(reversed(digits))


def public_key_string(raw: bytes) -> str:
    """Return the Restate form of an ed25519 public key.

    Args:
        raw: The 32 raw bytes of the public key.

    Returns:
        ``publickeyv1_<base58 of raw>``, as ``restate.app(identity_keys=[...])`` expects.

    Raises:
        ConfigurationError: ``raw`` is not 32 bytes long.
    """
    if len(raw) != 32:
        raise ConfigurationError(f"an ed25519 public key has 32 bytes, got {len(raw)}")
    return _PUBLIC_KEY_PREFIX + _base58(raw)


def load_or_create_identity(directory: Path) -> RequestIdentity:
    """Load the key pair kept in ``directory``, or create it there (the same key is reused across restarts).

    The private key is written as PKCS#8 PEM to ``<directory>/request-identity.pem`` with mode 0600 (created
    with those permissions, never readable by others in between).

    Args:
        directory: Where the key lives, e.g. the engine's data directory; created when missing.

    Returns:
        The key pair.

    Raises:
        ConfigurationError: The file exists but is not an ed25519 private key in PEM form; delete it to get
            a new one (services must then be restarted with the new public key).
    """
    serialization, ed25519 = _crypto()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_FILE_NAME
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        pem = _write_new_key(path)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"{str(path)!r} is not a PEM private key ({error}); delete it and a new one is created"
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigurationError(
            f"{str(path)!r} holds a {type(key).__name__}, not an ed25519 key; delete it and a new one is created"
        )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return RequestIdentity(private_key_path=path, public_key=public_key_string(raw))


def _write_new_key(path: Path) -> bytes:
    serialization, ed25519 = _crypto()
    pem: bytes = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    try:
        os.link(partial, path)  # Fails if another process created the key meanwhile: then use that one.
    except FileExistsError:
        pem = path.read_bytes()
    finally:
        partial.unlink(missing_ok=True)
    return pem


def identity_keys_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """The public keys named by :data:`IDENTITY_KEYS_ENV` (comma- or whitespace-separated).

    Args:
        environ: Where to look; ``os.environ`` when None.

    Returns:
        The keys; empty when the variable is unset or empty (no identity check).
    """
    value = (os.environ if environ is None else environ).get(IDENTITY_KEYS_ENV, "")
    return [key for key in value.replace(",", " ").split() if key]


def require_request_identity(app: Any, keys: Iterable[str]) -> AsgiApp:
    """Wrap an ASGI app so that only requests signed by restate-server with one of ``keys`` reach it.

    Uses the Restate SDK's own verifier (the one ``restate.app(identity_keys=...)`` uses), so an app built
    without identity keys gets the same check. ``GET .../health`` stays open, as in the SDK; any other HTTP
    request without a valid signature is answered with 401 and never reaches the app.

    Args:
        app: The ASGI application (usually ``restate.app([...])``).
        keys: ``publickeyv1_...`` keys; at least one.

    Returns:
        The wrapping ASGI application.

    Raises:
        ConfigurationError: No key was given, or a key is malformed.
    """
    from restate._internal import (  # type: ignore[import-not-found]  # The SDK's compiled core (no stubs).
        IdentityVerificationException,
        PyIdentityVerifier,
    )

    key_list = list(keys)
    if not key_list:
        raise ConfigurationError("require_request_identity needs at least one publickeyv1_... key")
    try:
        verifier = PyIdentityVerifier(key_list)
    except Exception as error:  # The core raises its own IdentityKeyException for a malformed key.
        raise ConfigurationError(
            f"invalid request identity key in {key_list!r}: {error}; use the publickeyv1_... string of the "
            f"engine's key (${IDENTITY_KEYS_ENV})"
        ) from None

    async def verified(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "http":
            path = str(scope.get("path", ""))
            if not path.endswith(_HEALTH_SUFFIX):
                headers = [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in scope["headers"]]
                try:
                    verifier.verify(headers, path)
                except IdentityVerificationException:
                    await _unauthorized(receive, send)
                    return
        await app(scope, receive, send)

    verified.__wrapped__ = app  # type: ignore[attr-defined]  # Lets tools find the original app.
    return verified


async def _unauthorized(receive: Receive, send: Send) -> None:
    body = b"request identity verification failed: this service accepts only requests signed by its Restate engine\n"
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})

"""Secrets: password files (systemd credentials too) and URLs with their credentials removed.

A secret's content never appears in an error, a log line or command output.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gateway.config import ConfigError

SYSTEMD_CREDENTIALS = Path("/run/credentials")
"""systemd puts a service's credentials in `{this}/{unit}/` while the service runs."""


def without_credentials(url: str) -> str:
    """The URL with any `user:password@` removed, for printing and logging."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def secret_path(path: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where a password file is. A bare name (no directory part) is a systemd credential,
    `$CREDENTIALS_DIRECTORY/{name}` (`LoadCredential=name:...`), when the service has any."""
    environ = os.environ if environ is None else environ
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if directory and not path.is_absolute() and len(path.parts) == 1:
        return Path(directory) / path
    return path


def only_in_service(path: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a password file is a systemd credential that exists only inside the running
    service, so that a shell cannot check it: a bare name without $CREDENTIALS_DIRECTORY, or a
    file under /run/credentials/ whose unit directory is absent."""
    environ = os.environ if environ is None else environ
    if not path.is_absolute() and len(path.parts) == 1:
        return not environ.get("CREDENTIALS_DIRECTORY")
    return path.is_relative_to(SYSTEMD_CREDENTIALS) and not path.parent.exists()


def read_secret(path: Path, setting: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret in a file, without surrounding white space.

    Raises ConfigError naming the setting and the file (never its content) when the file cannot
    be read or is empty.
    """
    located = secret_path(path, environ)
    try:
        secret = located.read_text(encoding="utf-8").strip()
    except OSError as error:
        hint = ""
        if located == path and len(path.parts) == 1:
            hint = " (a bare name is read from $CREDENTIALS_DIRECTORY, which is not set)"
        raise ConfigError(f"{setting} {located}: cannot read: {error.strerror}{hint}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{setting} {located}: cannot read: not UTF-8 text") from None
    if not secret:
        raise ConfigError(f"{setting} {located} is empty")
    return secret

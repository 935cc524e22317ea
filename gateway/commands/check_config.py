"""`carm-gateway check-config` (CONTRACT section 8): the configuration, the partner registry, and
the password files and TLS material, read with the code `run` uses."""

import json
from dataclasses import replace
from pathlib import Path

from gateway.commands import EXIT_OK
from gateway.config import Config
from gateway.partners import load_registry
from gateway.secrets import only_in_service, read_secret, without_credentials
from gateway.transport.mqtt import broker_address, tls_context


def check_config(config: Config, as_json: bool = False) -> int:
    """Print what was checked; a problem raises ConfigError (exit 78) before anything is
    printed."""
    registry = load_registry(config.partners_file)
    notes = check_secrets(config)
    checked = {
        "configuration": str(config.source) if config.source else None,
        "partner_registry": str(config.partners_file),
        "senders": len(registry.senders),
        "accounts": len(registry.accounts),
        "database": without_credentials(config.database_url),
        "mqtt": without_credentials(config.mqtt.url),
        "mail": without_credentials(config.smtp.url) if config.smtp.url else "Maildir",
        "notes": notes,
    }
    if as_json:
        print(json.dumps(checked, indent=2))
        return EXIT_OK
    print(f"configuration: {config.source or 'embedded defaults'}")
    print(f"partner registry: {config.partners_file} ({len(registry.senders)} senders, "
          f"{len(registry.accounts)} accounts)")
    for key in ("database", "mqtt", "mail"):
        print(f"{key}: {checked[key]}")
    for note in notes:
        print(note)
    return EXIT_OK


def check_secrets(config: Config) -> list[str]:
    """Read the password files and load the TLS material that `run` will use, as the broker
    link and the SMTP sender do; ConfigError names the key and the file that cannot be used.

    A systemd credential exists only inside the running service: it is left out, and the
    returned notes say so (docs/install.md)."""
    notes = []
    mqtt = config.mqtt
    if mqtt.password_file is not None and only_in_service(mqtt.password_file):
        notes.append(_left_to_the_service("[mqtt] password_file", mqtt.password_file))
        mqtt = replace(mqtt, password_file=None)
    if broker_address(mqtt).tls:
        tls_context(mqtt)
    smtp_password = config.smtp.password_file
    if config.smtp.url and smtp_password is not None:  # the Maildir needs no password
        if only_in_service(smtp_password):
            notes.append(_left_to_the_service("[smtp] password_file", smtp_password))
        else:
            read_secret(smtp_password, "[smtp] password_file")
    return notes


def _left_to_the_service(setting: str, path: Path) -> str:
    return f"{setting} {path}: a systemd credential, read when the service starts (not checked)"

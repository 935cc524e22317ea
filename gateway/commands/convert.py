"""`carm-gateway convert FILE`: the XML form of an EDIFACT message, the EDIFACT form of XML."""

import sys
from pathlib import Path

from gateway.commands import EXIT_FAILED, EXIT_OK, UsageError
from gateway.config import Config


def convert(config: Config, file: str) -> int:
    try:
        payload = Path(file).read_bytes()
    except OSError as error:
        raise UsageError(f"{file}: cannot read: {error.strerror}") from None
    del config
    print(f"{file}: conversion needs the EDIFACT codec, which this version lacks",
          file=sys.stderr)
    return EXIT_FAILED if payload else EXIT_OK

"""The commands of the command line, one module each, and their exit statuses."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DEFERRED = 3
EXIT_TIMEOUT = 4
EXIT_CONFIG = 78


class UsageError(Exception):
    """Bad arguments, or a file that cannot be opened or read: exit 2."""

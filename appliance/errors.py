"""Errors that end a command, each carrying the process exit code it maps to.

Exit codes are part of the command-line contract:
0 accepted, 1 refused by a check, 2 usage or configuration error, 3 HSM error, 4 media error.
"""

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_HSM = 3
EXIT_MEDIA = 4


class CeremonyError(Exception):
    """Base class: a failure that the operator must be told about, plainly."""

    exit_code = EXIT_USAGE


class UsageError(CeremonyError):
    """Bad arguments or an unreadable configuration file."""

    exit_code = EXIT_USAGE


class FormatError(CeremonyError):
    """A request or response file that cannot be read as one (check KSR-XML)."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, check: str = "KSR-XML"):
        super().__init__(message)
        self.check = check


class RefusedError(CeremonyError):
    """A request (or response) that failed one or more policy checks."""

    exit_code = EXIT_REFUSED


class HsmError(CeremonyError):
    """Anything the HSM or its PKCS#11 module refused or could not do."""

    exit_code = EXIT_HSM


class MediaError(CeremonyError):
    """A stick that vanished, could not be mounted, or did not read back what was written."""

    exit_code = EXIT_MEDIA

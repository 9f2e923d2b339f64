"""Errors kgan raises for bad user input.

Every error a user can cause (an unknown name, a bad size, a corrupt file) is a
`ConfigError` (or a subclass) carrying a one-line message that names the bad
value and what is allowed. Front ends (`kgan_cli`: kgan-train, kgan-export, ...) catch
`ConfigError` and turn it into that line on stderr and exit code 2.
"""


class ConfigError(ValueError):
    """A user-supplied value or input is invalid; the message says what is allowed."""


class DataError(ConfigError):
    """A data source is missing, empty, unreachable or corrupt."""


class ClassifierBelowGate(ConfigError):
    """The reference classifier stayed below its gate on this data (`accuracy`, `gate`; `reason`: what failed)."""

    def __init__(self, message, accuracy=None, gate=None, reason=None):
        super().__init__(message)
        self.accuracy, self.gate, self.reason = accuracy, gate, reason or message


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the step."""


class StorageError(ConfigError):
    """An output cannot be written (unwritable directory, disk full); what was written before is intact."""

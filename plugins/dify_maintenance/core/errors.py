"""Exceptions that end a run with a message meant for the operator, not a stack trace."""

from __future__ import annotations


class MaintenanceError(Exception):
    """Base class: something the operator has to fix; nothing was deleted because of it.

    Retrying cannot fix these, so tasks fail at once instead of burning their retries.
    """

    retryable = False


class LockContention(MaintenanceError):
    """Live transactions kept the rows locked through every back-off; a later try may pass."""

    retryable = True


class NotDifyDatabase(MaintenanceError):
    """The connection reaches a database that Dify never migrated."""


class UnsupportedDifyVersion(MaintenanceError):
    """The database is Dify, but at a revision this package does not know or support."""


class SchemaDrift(MaintenanceError):
    """A Dify newer than this package knows has columns that may name rows the purge deletes."""


class InvalidPolicy(MaintenanceError):
    """Retention policy or run parameters are out of range or malformed."""


class ArchiveUnavailable(MaintenanceError):
    """The archive store cannot be written and read back, so no purge may start."""


class ArchiveStoreUnreachable(MaintenanceError):
    """The archive store timed out or answered with a server error: the task's retries may pass."""

    retryable = True


class ArchiveRefused(MaintenanceError):
    """An archive names a table, family or columns this package never archives: nothing restored."""


class AnotherRunActive(MaintenanceError):
    """Another maintenance run holds the database; two purges must never interleave."""


class VerificationFailed(MaintenanceError):
    """The purge left the database in a state that breaks one of the invariants."""

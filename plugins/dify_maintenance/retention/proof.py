"""A check a caller can plug into every batch, at the moment of deleting.

cleanup-pg deletes workflow logs only where the log cluster holds a current document for each
row. The engine knows nothing of clusters: it hands each deleted row of the tables the check
names to it (as the batch statement streams it, with the root the row belongs to), and before the
batch's re-check asks which roots are not proved. Those make the batch roll back and run again
without them; they stay, counted under the check's reason. An error the check raises (the cluster
unreachable) rolls the batch back and ends the walk: nothing unproved is ever committed.
"""

from __future__ import annotations

from typing import Protocol

import psycopg

from dify_maintenance.core.schema import SchemaSnapshot


class RowProof(Protocol):
    reason: str  # the keep reason of the roots it does not prove
    checked: int  # rows it compared, across the walk
    examples: list[str]  # the first rows it did not prove, with why

    def tables(self) -> frozenset[str]:
        """The tables whose deleted rows it must see."""
        ...

    def prepare(self, snap: SchemaSnapshot) -> None:
        """Once per family, before the first batch."""
        ...

    def begin(self) -> None:
        """A batch (or a redo of one) starts."""
        ...

    def row(self, table: str, values: dict, root: str | None) -> None:
        """One row the batch's statement deleted (``row_to_json``), and the key of its root
        (None below the root's direct children)."""
        ...

    def unproven(self, conn: psycopg.Connection) -> dict[str, str]:
        """After the statement, inside the batch's transaction: root key -> why it is not proved."""
        ...

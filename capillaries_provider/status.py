"""Capillaries' status codes (spec 3.2): the one status model of the engine, the store and the Airflow layer.

A leaf module (it imports nothing of ours) so the engine's ports and the store's `wf_*` tables share the very same
enums. The values are the `tinyint` codes Go's `wfmodel` writes into `wf_batch_history`, `wf_node_history` and
`wf_run_history`; its toolbelt and UI read our keyspaces, so they must never change.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NodeBatchStatus(enum.IntEnum):
    """Status of a batch (`wf_batch_history`) and of a node (`wf_node_history`): Go's `NodeBatchStatusType`."""

    NONE = 0
    START = 1
    SUCCESS = 2
    FAIL = 3
    STOPRECEIVED = 104

    @property
    def finished(self) -> bool:
        return self in (NodeBatchStatus.SUCCESS, NodeBatchStatus.FAIL, NodeBatchStatus.STOPRECEIVED)

    @property
    def label(self) -> str:
        """Go's `ToString()` spelling, used in comments such as the run-complete JSON."""
        return self.name.lower()


class RunStatus(enum.IntEnum):
    """Status of a run (`wf_run_history`): Go's `RunStatusType`."""

    NONE = 0
    START = 1
    COMPLETE = 2
    STOP = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class RefreshOutcome:
    """What a node/run refresh recorded: the node's final status (None while batches are pending)."""

    node_status: NodeBatchStatus | None
    run_completed: bool

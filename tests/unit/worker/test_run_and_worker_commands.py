"""`capillaries run ...`, `keyspace drop` and `worker` are wired into the CLI; run reports read as documented."""

from __future__ import annotations

from capillaries_provider.cli.main import build_parser
from capillaries_provider.cli.run_report import NodeProgress, RunReport, describe
from capillaries_provider.status import NodeBatchStatus, RunStatus


def test_run_start_arguments() -> None:
    args = build_parser().parse_args(
        ["run", "start", "--keyspace", "ks", "--script", "s.json", "--start-nodes", "a,b", "--wait", "--timeout", "5"]
    )
    assert (args.keyspace, args.script, args.params, args.start_nodes, args.wait, args.timeout) == (
        "ks",
        "s.json",
        "",
        "a,b",
        True,
        5.0,
    )


def test_other_commands_parse() -> None:
    parser = build_parser()
    assert parser.parse_args(["run", "stop", "--keyspace", "ks", "--run-id", "3"]).run_id == 3
    assert parser.parse_args(["run", "status", "--keyspace", "ks"]).run_id is None
    assert parser.parse_args(["run", "history", "--keyspace", "ks", "--format", "json"]).format == "json"
    assert parser.parse_args(["keyspace", "drop", "ks"]).keyspace == "ks"
    worker = parser.parse_args(["worker", "--processes", "3", "--queue", "q"])
    assert (worker.processes, worker.queue) == (3, "q")


def test_report_names_failed_and_pending_nodes() -> None:
    report = RunReport(
        run_id=2,
        status=RunStatus.COMPLETE,
        props=None,
        nodes=(
            NodeProgress("read", NodeBatchStatus.SUCCESS, 2, 2, 0),
            NodeProgress("calc", NodeBatchStatus.FAIL, 3, 3, 1, ("batch 1: ks/2/calc/1: boom",)),
            NodeProgress("out", NodeBatchStatus.NONE, 0, 0, 0),
        ),
    )
    assert not report.succeeded
    assert [n.node for n in report.failed_nodes] == ["calc"]
    assert [n.node for n in report.pending_nodes] == ["out"]
    assert describe(report) == [
        "run 2: complete",
        "  read: success (2/2 batches finished, 0 failed)",
        "  calc: fail (3/3 batches finished, 1 failed)",
        "    batch 1: ks/2/calc/1: boom",
        "  out: none (0/0 batches finished, 0 failed)",
    ]

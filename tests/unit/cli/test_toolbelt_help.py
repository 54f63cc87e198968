"""Every toolbelt-equivalent command has a `--help` naming its options."""

from __future__ import annotations

import pytest

from capillaries_provider.cli.main import main


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (["table-cql"], ["--script", "--keyspace", "--run-id", "--start-nodes"]),
        (["proto-file-reader-creator"], ["--file-type", "--csv-hdr-line-idx", "--csv-separator", "--in-dir"]),
        (["exec-node"], ["--keyspace", "--script", "--node", "--run-id"]),
        (["run", "history"], ["--run-id", "--node", "--format"]),
        (["validate"], ["svg"]),
    ],
)
def test_help(capsys: pytest.CaptureFixture[str], command: list[str], options: list[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(o in out for o in options), out

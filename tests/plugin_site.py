"""The example third-party processor `examples/regex_extract` "installed" for tests: a site folder with the
dist-info that `pip install` would leave, whose entry_points.txt names the example module."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "regex_extract"
REGEX_EXTRACT = "regex_extract = capillaries_regex_extract:PROCESSOR"


def install(site: Path, name: str, target: str) -> Path:
    """A dist-info folder for distribution `name` with one `capillaries.processors` entry point; returns `site`."""
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[capillaries.processors]\n{target}\n")
    return site

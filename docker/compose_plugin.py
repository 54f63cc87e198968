"""Docker Compose v2 for a docker client that lacks it, from Debian's archive, verified as apt verifies.

Our machines have the docker client but no compose plugin, and Debian bookworm packages only Compose v1. Debian
trixie's `docker-compose` package is Compose v2 (one Go binary, glibc >= 2.34). This fetches it from deb.debian.org:
the suite's InRelease must carry a good signature of the Debian archive keyring (gpgv), the Packages index must
match the SHA256 that InRelease gives, and the .deb the SHA256 that the index gives. The plugin is unpacked into a
cache folder (no root, nothing installed system-wide); use it as `DOCKER_CONFIG=<folder> docker compose ...`.

    python docker/compose_plugin.py        # prints the folder to use as DOCKER_CONFIG
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
SUITE = "trixie"
PACKAGE = "docker-compose"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
PLUGIN_IN_DEB = "usr/libexec/docker/cli-plugins/docker-compose"
TIMEOUT_S = 120


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
        return bytes(resp.read())


def _checked(url: str, sha256: str) -> bytes:
    data = _get(url)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{url}: SHA256 differs from the signed index")
    return data


def _verified_release(work: Path) -> str:
    """The suite's InRelease text, only if gpgv accepts its signature."""
    signed = work / "InRelease"
    signed.write_bytes(_get(f"{MIRROR}/dists/{SUITE}/InRelease"))
    plain = work / "Release"
    done = subprocess.run(
        ["gpgv", "--keyring", KEYRING, "--output", str(plain), str(signed)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{MIRROR}/dists/{SUITE}/InRelease: bad signature: {done.stderr.strip()}")
    return plain.read_text()


def _sha256_of(release: str, name: str) -> str:
    """The SHA256 the Release file gives for `name` (a path under dists/<suite>/)."""
    in_sha256 = False
    for line in release.splitlines():
        if not line.startswith(" "):
            in_sha256 = line.startswith("SHA256:")
        elif in_sha256 and line.split()[-1] == name:
            return line.split()[0]
    raise RuntimeError(f"{SUITE} Release has no SHA256 for {name}")


def _stanza(packages: str, package: str) -> dict[str, str]:
    for block in packages.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(" "))
        if fields.get("Package") == package:
            return fields
    raise RuntimeError(f"{SUITE} has no package {package}")


def docker_config_dir(cache: Path | None = None) -> Path:
    """A DOCKER_CONFIG folder whose cli-plugins hold Compose v2 (fetched once, then reused)."""
    root = cache or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "capillaries" / "docker"
    plugin = root / "cli-plugins" / "docker-compose"
    if plugin.is_file():
        return root
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        index = f"main/binary-{arch}/Packages.xz"
        release = _verified_release(work)
        packages = lzma.decompress(_checked(f"{MIRROR}/dists/{SUITE}/{index}", _sha256_of(release, index))).decode()
        fields = _stanza(packages, PACKAGE)
        deb = work / "compose.deb"
        deb.write_bytes(_checked(f"{MIRROR}/{fields['Filename']}", fields["SHA256"]))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
        plugin.parent.mkdir(parents=True, exist_ok=True)
        partial = plugin.with_suffix(".partial")
        shutil.copyfile(work / "root" / PLUGIN_IN_DEB, partial)
        partial.chmod(0o755)
        partial.replace(plugin)
    return root


if __name__ == "__main__":
    try:
        print(docker_config_dir())
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        sys.exit(f"compose_plugin: {e}")

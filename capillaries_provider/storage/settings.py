"""How workers reach remote files, read from the environment like Go daemons read their config (spec 8).

S3 uses the AWS SDK's standard chain (`AWS_*` variables, `~/.aws`), with `CAPILLARIES_S3_ENDPOINT_URL` for
S3-compatible stores; HTTPS trusts the system roots or `CAPILLARIES_CA_PATH` (Go's `ca_path`: a directory of PEM
files, or one PEM file); SFTP authenticates with the private key of the URL's user from
`CAPILLARIES_SFTP_PRIVATE_KEYS` (Go's `private_keys`: a JSON object user -> key file). Secrets are kept out of
`repr` so they cannot reach a log line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RemoteSettings:
    s3_endpoint_url: str | None = None
    # Explicit S3 credentials (an Airflow connection); None means the AWS SDK's own chain.
    s3_key_id: str | None = field(default=None, repr=False)
    s3_secret: str | None = field(default=None, repr=False)
    s3_region: str | None = None
    ca_path: str | None = None
    sftp_private_keys: Mapping[str, str] = field(default_factory=dict)
    # Seconds to connect and between bytes read; attempts per operation for timeouts, 5xx and resets.
    timeout_s: float = 30.0
    attempts: int = 5
    # Read-ahead block of a remote input: the memory a streamed file costs, whatever its size.
    block_bytes: int = 8 << 20

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a message (used to scrub error texts)."""
        return tuple(s for s in (self.s3_secret, self.s3_key_id) if s)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RemoteSettings:
        e = os.environ if env is None else env
        raw_keys = e.get("CAPILLARIES_SFTP_PRIVATE_KEYS", "").strip()
        keys: dict[str, str] = {}
        if raw_keys:
            try:
                parsed = json.loads(raw_keys)
            except ValueError as err:
                raise ValueError(f"CAPILLARIES_SFTP_PRIVATE_KEYS is not a JSON object: {err}") from None
            if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
                raise ValueError('CAPILLARIES_SFTP_PRIVATE_KEYS must map user names to key files: {"user": "/path"}')
            keys = {str(k): os.path.expanduser(v) for k, v in parsed.items()}
        return cls(
            s3_endpoint_url=e.get("CAPILLARIES_S3_ENDPOINT_URL") or None,
            ca_path=e.get("CAPILLARIES_CA_PATH") or None,
            sftp_private_keys=keys,
            timeout_s=float(e.get("CAPILLARIES_REMOTE_TIMEOUT_S", cls.timeout_s)),
            attempts=max(1, int(e.get("CAPILLARIES_REMOTE_ATTEMPTS", cls.attempts))),
            block_bytes=max(4096, int(e.get("CAPILLARIES_REMOTE_BLOCK_BYTES", cls.block_bytes))),
        )

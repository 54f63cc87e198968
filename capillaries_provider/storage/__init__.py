"""Remote files (spec 9.1): `s3://`, `http(s)://` and `sftp://` next to local paths, on fsspec.

`urls` is pure (parsing, schemes, redaction); `settings` reads the worker's configuration the way Go daemons do;
`remote` is the I/O edge: opening, reading, checking and atomically uploading remote files with retries.
fsspec and its backends are imported only when a remote URL is first used, so DAG parsing stays fast.
"""

"""A local GCS emulator (the ``gcp-storage-emulator`` package) for tests and CI.

:class:`GcsEmulator` runs ``python -m gcp_storage_emulator start --in-memory`` on a free
127.0.0.1 port in a subprocess and talks to it over plain HTTP with the standard library
(bucket creation, uploads, downloads), so setting it up needs no credentials and no Google
client. Point Beam at it with ``STORAGE_EMULATOR_HOST=<emulator.endpoint>``.

Run ``python -m tests.gcs_emulator`` to start one by hand: it prints
``STORAGE_EMULATOR_HOST=...`` and serves until interrupted.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class GcsEmulator:
    """An in-memory GCS emulator subprocess on ``127.0.0.1``; use as a context manager."""

    def __init__(self, host: str = HOST, start_timeout_s: float = 20.0):
        self.host, self.start_timeout_s = host, start_timeout_s
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        """The value for ``STORAGE_EMULATOR_HOST`` (scheme, host and port)."""
        return f"http://{self.host}:{self.port}"

    def start(self, attempts: int = 3) -> GcsEmulator:
        last = ""
        for _ in range(attempts):  # another process may take the port between probe and bind
            self.port = free_port(self.host)
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", self.host]
                + ["--port", str(self.port), "--in-memory", "--quiet"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + self.start_timeout_s
            while time.monotonic() < deadline and self._proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{self.endpoint}/", timeout=1) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    time.sleep(0.05)
            last = self._proc.stderr.read().decode(errors="replace")[-2000:] if self._proc.poll() is not None else ""
            self.stop()
        raise RuntimeError(f"GCS emulator did not start on {self.host}: {last or 'timed out'}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def __enter__(self) -> GcsEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _request(self, method: str, path: str, data: bytes | None = None, content_type: str | None = None) -> bytes:
        req = urllib.request.Request(f"{self.endpoint}{path}", data=data, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def create_bucket(self, name: str) -> None:
        body = json.dumps({"name": name}).encode()
        self._request("POST", "/storage/v1/b?project=test", body, "application/json")

    def upload(self, bucket: str, name: str, data: bytes) -> str:
        """Store ``data`` as ``gs://bucket/name``; returns that URL."""
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        self._request("POST", f"/upload/storage/v1/b/{bucket}/o?{query}", data, "application/octet-stream")
        return f"gs://{bucket}/{name}"

    def upload_folder(self, bucket: str, prefix: str, folder: str | Path) -> str:
        """Upload every file under ``folder`` as ``gs://bucket/prefix/<relative path>``; returns that folder URL."""
        root = Path(folder)
        prefix = prefix.strip("/")
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            self.upload(bucket, f"{prefix}/{path.relative_to(root).as_posix()}", path.read_bytes())
        return f"gs://{bucket}/{prefix}"

    def download(self, bucket: str, name: str) -> bytes:
        return self._request("GET", f"/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}?alt=media")

    def list(self, bucket: str, prefix: str = "") -> list[str]:
        """Object names under ``prefix`` (all pages)."""
        names: list[str] = []
        token = None
        while True:
            query = {"prefix": prefix, **({"pageToken": token} if token else {})}
            page = json.loads(self._request("GET", f"/storage/v1/b/{bucket}/o?{urllib.parse.urlencode(query)}"))
            names += [item["name"] for item in page.get("items", [])]
            token = page.get("nextPageToken")
            if not token:
                return sorted(names)


if __name__ == "__main__":
    with GcsEmulator() as emulator:
        print(f"STORAGE_EMULATOR_HOST={emulator.endpoint}", flush=True)
        try:
            emulator._proc.wait()
        except KeyboardInterrupt:
            pass

"""A throwaway PostgreSQL server on loopback, for tests and for trying a shared Optuna study by hand.

initdb in a fresh temporary folder, postgres on a free 127.0.0.1 port with trust authentication
(loopback only), removed again on stop. PostgreSQL refuses to run as root, so as root the cluster
belongs to the `postgres` system user that Debian's postgresql package creates.

    python tests/pg_server.py      # prints a postgresql:// URL, serves until Ctrl-C
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if installed:
        return installed[-1].parent
    raise Unavailable(
        "no PostgreSQL binaries (pg_ctl not on PATH nor under /usr/lib/postgresql/*/bin); "
        "install Debian's postgresql package"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, user: str = "socdem", database: str = "socdem"):
        self.user, self.database = user, database
        self.dir = self.port = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self._owner, "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise Unavailable(
                f"{Path(cmd[0]).name} failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-800:]}"
            )
        return result

    def start(self) -> PostgresServer:
        bindir = find_bindir()
        self._owner = "postgres"
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(self._owner)
            except KeyError:
                raise Unavailable(
                    "running as root and no 'postgres' user to own the cluster (Debian's postgresql package creates it)"
                ) from None
        self.dir = Path(tempfile.mkdtemp(prefix="socdem-pg-"))
        if os.geteuid() == 0:
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        data, self.port = self.dir / "data", free_port()
        self._run(str(bindir / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._bindir, self._data = bindir, data
        try:
            self._run(
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self.dir / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            )
            self._run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database)
        except Unavailable:
            log = self.dir / "server.log"
            tail = log.read_text()[-800:] if log.exists() else ""
            self.stop()
            raise Unavailable(f"postgres did not start: {tail}") from None
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        if (self._data / "postmaster.pid").exists():
            try:
                self._run(str(self._bindir / "pg_ctl"), "-D", str(self._data), "-m", "immediate", "-w", "stop")
            except Unavailable:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    with PostgresServer() as server:
        print(server.url, flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass

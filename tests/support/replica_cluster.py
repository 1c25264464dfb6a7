"""N thinkgate replicas on one PostgreSQL + Redis behind nginx, from processes: the
topology of deploy/compose/docker-compose.yml, with deploy/compose/nginx.conf itself.

    cluster = ReplicaCluster(tmp_path, replicas=3, extra_env={...}, config=toml_path)
    cluster.base_url        # nginx: what clients use
    cluster.replicas[i]     # support.server.ServerProcess of replica i (0-based; id replica-{i+1})
    cluster.kill(i)         # SIGKILL, nothing cleans up; nginx routes around it
    cluster.restart(i)      # kill if running, start again on the same port (nginx unchanged)
    cluster.stop()          # everything (also: `with ReplicaCluster(...) as cluster:`)

Every replica gets `shared_env(services())` (a fresh database on the test PostgreSQL, the
test Redis, one key pepper), `THINKGATE_REPLICA_ID=replica-{i+1}`, then `extra_env`.
nginx runs from a temp prefix: the compose file's `server replica-N:8000` lines become one
line per replica (written like `replica-1`'s) on loopback ports, `listen 8080` a free
port; pid, temp paths and (as root) `user` come from the command line or are added.
`cluster.env` is the shared environment. Skips the test (pytest.skip) when nginx is missing
and cannot be installed, or PostgreSQL + Redis are unavailable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from tests.support.gateway_support import ROOT, services, shared_env
from tests.support.server import ServerProcess, free_port

NGINX_CONF = ROOT / "deploy" / "compose" / "nginx.conf"
_SERVER_LINE = re.compile(r"server replica-(\d+):8000")
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> str:
    """nginx, installed from Debian if missing and possible; else the test skips."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/bin")
    for package in ("nginx-light", "nginx"):  # nginx-light: Debian 12; gone in 13
        if found is not None or os.getuid() != 0 or not shutil.which("apt-get"):
            break
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            check=False,
        )
        found = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.skip("nginx is not installed and cannot be installed here")
    return found


def nginx_config(template: str, ports: list[int], listen: int, prefix: Path) -> str:
    """deploy/compose/nginx.conf with the replicas and the listener on loopback ports."""

    def upstream(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return f"server 127.0.0.1:{ports[index]}"

    lines: list[str] = []
    for line in template.splitlines():
        if (m := _SERVER_LINE.search(line)) is None:
            lines.append(line)
        elif int(m.group(1)) == 1:  # one upstream line per replica, written like the first
            lines += [
                _SERVER_LINE.sub(f"server replica-{n}:8000", line) for n in range(1, len(ports) + 1)
            ]
    text = _SERVER_LINE.sub(upstream, "\n".join(lines))
    text = re.sub(r"listen 8080;", f"listen 127.0.0.1:{listen};", text)
    temps = "".join(f"    {name}_temp_path {prefix / name};\n" for name in _TEMP_PATHS)
    text = text.replace("http {\n", "http {\n" + temps, 1)
    if text.count("127.0.0.1:") != len(ports) + 1:
        raise RuntimeError(f"{NGINX_CONF}: expected `server replica-N:8000` and `listen 8080`")
    return text


class ReplicaCluster:
    def __init__(
        self,
        tmp: Path,
        replicas: int = 3,
        *,
        extra_env: dict[str, str] | None = None,
        config: Path | None = None,
    ) -> None:
        self._binary = nginx_binary()
        self._tmp = tmp
        self._config = config
        self._env = {**shared_env(services()), **(extra_env or {})}
        self._starts = [0] * replicas
        self.base_url = ""  # nginx's, once it answers
        self.replicas: list[ServerProcess] = []
        self._nginx: subprocess.Popen[bytes] | None = None
        try:
            for index in range(replicas):
                self.replicas.append(self._start(index, free_port()))
            self._start_nginx()
        except BaseException:
            self.stop()
            raise

    @property
    def env(self) -> dict[str, str]:
        """The environment every replica shares (database URL, Redis URL, pepper, extras)."""
        return dict(self._env)

    def kill(self, index: int) -> None:
        process = self.replicas[index].process
        if process.poll() is None:
            process.kill()
            process.wait()
        self.replicas[index].stop()  # closes its log

    def restart(self, index: int) -> ServerProcess:
        self.kill(index)
        self.replicas[index] = self._start(index, self.replicas[index].port)
        return self.replicas[index]

    def stop(self) -> None:
        if self._nginx is not None and self._nginx.poll() is None:
            self._nginx.terminate()
            self._nginx.wait(10)
        for replica in self.replicas:
            replica.stop()

    def __enter__(self) -> ReplicaCluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self, index: int, port: int) -> ServerProcess:
        """Replica `index`'s next run, in a directory of its own (its log is kept)."""
        self._starts[index] += 1
        run = self._tmp / f"replica-{index + 1}" / f"run-{self._starts[index]}"
        run.mkdir(parents=True)
        env = {"THINKGATE_REPLICA_ID": f"replica-{index + 1}", **self._env}
        return ServerProcess(run / "data", config=self._config, extra_env=env, port=port)

    def _start_nginx(self) -> None:
        prefix = self._tmp / "nginx"
        prefix.mkdir()
        for name in _TEMP_PATHS:
            (prefix / name).mkdir()
        listen = free_port()
        ports = [replica.port for replica in self.replicas]
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(NGINX_CONF.read_text(), ports, listen, prefix))
        globals_ = f"daemon off; pid {prefix / 'nginx.pid'};"
        if os.getuid() == 0:
            globals_ += " user root;"  # workers read the temp prefix, owned by us
        log = (prefix / "nginx.log").open("wb")
        self._nginx = subprocess.Popen(
            [self._binary, "-p", str(prefix), "-c", str(conf), "-g", globals_],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.base_url = f"http://127.0.0.1:{listen}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._nginx.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{(prefix / 'nginx.log').read_text()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer:\n{(prefix / 'nginx.log').read_text()}")

"""Python run in a bubblewrap sandbox: one process tree per call, the container's directory
as /mnt/data, nothing else of the host writable, no network (docs/code-interpreter.md).

    bwrap   new pid, net, ipc, uts (and cgroup) namespaces; /usr read-only, a private /tmp
            (sized), the container's directory read-write; killed with its parent; a
            seccomp filter (no namespaces, ptrace, BPF, mounts…: `seccomp`)
    server as root   bwrap keeps CAP_SETUID only to drop to an unprivileged uid of its
                     own (one per concurrent slot: the process limit counts per uid)
    server not root  bwrap in a user namespace, which also refuses nested namespaces
    boot    inside, before the code runs: rlimits (address space, CPU, processes, file
            size, open files), umask 0, the code as a notebook cell (the last expression's
            value is printed), pyplot figures saved as PNG files
    outside the wall-clock limit, the output cap and the disk quota, each watched while
            the code runs; any of them kills the whole sandbox
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from thinkgate.hosted.code_interpreter import seccomp

MOUNT = "/mnt/data"
_POLL = 0.25  # seconds between disk-quota checks while code runs

# Runs inside the sandbox as `python -I -c BOOT LIMITS_JSON`, the code on stdin.
BOOT = r"""
import ast, json, os, resource, sys
for name, value in json.loads(sys.argv[1]).items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.umask(0)
source = sys.stdin.read()
sys.stdin.close()
sys.stdin = open(os.devnull)
scope = {"__name__": "__main__", "__builtins__": __builtins__}
status = 0
try:
    tree = ast.parse(source, "<cell>")
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), scope)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), scope)
        if value is not None:
            print(repr(value))
except SystemExit as stop:
    status = stop.code if isinstance(stop.code, int) else 1
except BaseException as error:
    import traceback
    traceback.print_exception(type(error), error, error.__traceback__.tb_next)
    status = 1
plt = sys.modules.get("matplotlib.pyplot")
if plt is not None:
    for number in plt.get_fignums():
        plt.figure(number).savefig(f"figure_{number}.png")
sys.stdout.flush()
os._exit(status)
"""


@dataclass(slots=True, frozen=True)
class Limits:
    wall_seconds: float = 30.0
    cpu_seconds: int = 30
    memory_bytes: int = 1 << 30  # address space of each process
    processes: int = 32  # processes and threads, together
    file_bytes: int = 64 << 20  # the largest file the code may write
    disk_bytes: int = 256 << 20  # all of the container's files
    output_bytes: int = 64 << 10  # stdout and stderr, each
    open_files: int = 256
    tmp_bytes: int = 64 << 20  # the private /tmp


@dataclass(slots=True)
class RunResult:
    stdout: str
    stderr: str
    exit_code: int | None
    stopped: str | None = None  # why the sandbox was killed (a limit), if it was

    @property
    def ok(self) -> bool:
        return self.stopped is None and self.exit_code == 0


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot make its namespaces here (said at start-up)."""


class Sandbox:
    def __init__(
        self,
        *,
        python: str = "/usr/bin/python3",
        bwrap: str | None = None,
        read_only: tuple[str, ...] = (),
        uid_base: int = 60000,
        slots: int = 2,
    ) -> None:
        self._python = python
        self._bwrap = bwrap or shutil.which("bwrap")
        self._read_only = read_only
        self._privileged = os.geteuid() == 0
        self._free = list(range(slots))
        self._slots = asyncio.Semaphore(slots)
        self._uid_base = uid_base

    @property
    def mode(self) -> str:
        return "root: bwrap, then an unprivileged uid" if self._privileged else "user namespace"

    async def probe(self, workdir: Path) -> str | None:
        """None when the sandbox works here; else why not (bwrap's own words)."""
        if self._bwrap is None:
            return "bwrap not found on PATH; install the 'bubblewrap' package"
        os.makedirs(workdir, exist_ok=True)
        result = await self.run("print(6 * 7)", workdir, Limits(wall_seconds=30))
        if result.stdout.strip() != "42":
            return (result.stopped or result.stderr.strip() or "no output")[-500:]
        return None

    async def run(self, code: str, workdir: Path, limits: Limits) -> RunResult:
        async with self._slots:
            slot = self._free.pop()
            try:
                return await self._run(code, workdir, limits, slot)
            finally:
                self._free.append(slot)

    async def _run(self, code: str, workdir: Path, limits: Limits, slot: int) -> RunResult:
        fds = (seccomp.program_fd(),) if seccomp.supported() else ()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command(workdir, limits, slot, fds),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                pass_fds=fds,
            )
        finally:
            for fd in fds:
                os.close(fd)
        assert process.stdin and process.stdout and process.stderr
        stopped: list[str] = []
        out, err = bytearray(), bytearray()

        def stop(reason: str) -> None:
            if not stopped:
                stopped.append(reason)
            _kill(process)

        async def feed() -> None:
            assert process.stdin
            try:
                process.stdin.write(code.encode())
                await process.stdin.drain()
                process.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass

        async def read(stream: asyncio.StreamReader, into: bytearray, name: str) -> None:
            while chunk := await stream.read(1 << 16):
                room = limits.output_bytes - len(into)
                into += chunk[: max(room, 0)]
                if len(chunk) > room:
                    stop(f"its {name} passed the output limit ({limits.output_bytes} bytes)")

        async def watch_disk() -> None:
            while True:
                await asyncio.sleep(_POLL)
                if disk_usage(workdir) > limits.disk_bytes:
                    stop(f"its files passed the container's quota ({limits.disk_bytes} bytes)")

        watcher = asyncio.ensure_future(watch_disk())
        try:
            async with asyncio.timeout(limits.wall_seconds):
                await asyncio.gather(
                    feed(),
                    read(process.stdout, out, "output"),
                    read(process.stderr, err, "error output"),
                )
                await process.wait()
        except TimeoutError:
            stop(f"it ran past the time limit ({limits.wall_seconds:g} s)")
        finally:
            watcher.cancel()
            if process.returncode is None:
                _kill(process)
                await process.wait()
        if not stopped and disk_usage(workdir) > limits.disk_bytes:
            stopped.append(f"its files passed the container's quota ({limits.disk_bytes} bytes)")
        code_ = process.returncode
        if not stopped and code_ is not None and (code_ < 0 or code_ > 128):
            stopped.append(_signal_reason(abs(code_) % 128, limits))
        text = bytes(out).decode(errors="replace"), bytes(err).decode(errors="replace")
        return RunResult(text[0], text[1], code_, stopped[0] if stopped else None)

    def _command(self, workdir: Path, limits: Limits, slot: int, fds: tuple[int, ...]) -> list[str]:
        assert self._bwrap is not None  # probe() said so first
        command = [
            self._bwrap,
            "--die-with-parent",
            "--new-session",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for link in ("bin", "lib", "lib64", "sbin"):
            if Path(f"/{link}").is_symlink() or Path(f"/usr/{link}").is_dir():
                command += ["--symlink", f"usr/{link}", f"/{link}"]
        command += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        for path in self._read_only:
            command += ["--ro-bind", path, path]
        command += ["--proc", "/proc", "--dev", "/dev"]
        for scratch in ("/tmp", "/dev/shm"):  # multiprocessing's semaphores live in /dev/shm
            command += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", scratch]
        command += ["--bind", str(workdir), MOUNT, "--chdir", MOUNT, "--clearenv"]
        for fd in fds:  # the seccomp filter (x86-64): no namespaces, ptrace, BPF…
            command += ["--seccomp", str(fd)]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        for name, value in env.items():
            command += ["--setenv", name, value]
        if self._privileged:  # drop to a uid of this slot's own, every capability gone
            uid = str(self._uid_base + slot)
            command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            command += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}"]
            command += ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
            command += ["--no-new-privs"]
        else:
            command[1:1] = ["--unshare-user", "--disable-userns"]
        rlimits = {
            "RLIMIT_AS": limits.memory_bytes,
            "RLIMIT_CPU": limits.cpu_seconds,
            "RLIMIT_NPROC": limits.processes,
            "RLIMIT_FSIZE": limits.file_bytes,
            "RLIMIT_NOFILE": limits.open_files,
            "RLIMIT_CORE": 0,
        }
        return [*command, self._python, "-I", "-c", BOOT, json.dumps(rlimits)]


def disk_usage(root: Path) -> int:
    """Bytes of the regular files under `root` (links not followed)."""
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                stat = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            total += stat.st_size if not os.path.islink(os.path.join(directory, name)) else 0
    return total


def _kill(process: asyncio.subprocess.Process) -> None:
    """bwrap and, through its pid namespace, everything the code started."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _signal_reason(number: int, limits: Limits) -> str:
    if number in (signal.SIGXCPU, signal.SIGKILL):
        return f"it used up its CPU time ({limits.cpu_seconds} s) or was killed"
    if number == signal.SIGXFSZ:
        return f"it wrote a file larger than the limit ({limits.file_bytes} bytes)"
    return f"it was stopped by signal {signal.Signals(number).name}"

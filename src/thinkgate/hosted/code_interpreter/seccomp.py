"""A seccomp filter for the sandbox (x86-64), handed to bwrap with `--seccomp FD`.

The sandboxed code may not make namespaces (a user namespace is where most container
escapes start), trace processes, load kernel modules or BPF programs, use keyrings,
io_uring, userfaultfd or perf events, mount anything, or use the x32 ABI: each is
refused with EPERM. `clone3` answers ENOSYS, so glibc falls back to `clone`, whose flags
the filter can read (Docker's default profile does the same). Anything else is allowed:
the sandbox's namespaces, mounts and rlimits do the rest.

Classic BPF over `struct seccomp_data` {nr: u32 @0, arch: u32 @4, ip @8, args[6] @16}.
"""

from __future__ import annotations

import os
import platform
import struct

_ARCH_X86_64 = 0xC000003E
_X32 = 0x40000000
_NAMESPACES = 0x7E020000  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}
_ALLOW, _KILL = 0x7FFF0000, 0x80000000
_EPERM, _ENOSYS = 0x00050000 | 1, 0x00050000 | 38
# ptrace, mount, umount2, pivot_root, iopl, ioperm, init/delete_module, kexec_load,
# add_key, request_key, keyctl, perf_event_open, open_by_handle_at, setns, finit_module,
# kexec_file_load, bpf, userfaultfd, io_uring_{setup,enter,register}, unshare
_DENIED: tuple[int, ...] = (101, 165, 166, 155, 172, 173, 175, 176, 246, 248, 249, 250)
_DENIED += (298, 304, 308, 313, 320, 321, 323, 425, 426, 427, 272)
_CLONE, _CLONE3 = 56, 435

# opcodes
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def supported() -> bool:
    return platform.machine() in ("x86_64", "AMD64")


def program() -> bytes:
    """The filter as bwrap reads it: `struct sock_filter` entries, native byte order."""
    denied_at = 5  # the first of the denied numbers' checks
    clone_at = denied_at + len(_DENIED)  # then: clone?, clone3?, allow
    flags_at = clone_at + 3  # clone's flags: load, test, allow
    eperm_at, enosys_at = flags_at + 3, flags_at + 4
    code: list[tuple[int, int, int, int]] = []

    def op(kind: int, k: int, target: int | None = None) -> None:
        jump = 0 if target is None else target - (len(code) + 1)  # relative to the next
        code.append((kind, jump, 0, k))

    op(_LD_ABS, 4)  # arch
    op(_JEQ, _ARCH_X86_64, target=3)
    op(_RET, _KILL)
    op(_LD_ABS, 0)  # syscall number
    op(_JGE, _X32, target=eperm_at)
    for number in _DENIED:
        op(_JEQ, number, target=eperm_at)
    op(_JEQ, _CLONE, target=flags_at)
    op(_JEQ, _CLONE3, target=enosys_at)
    op(_RET, _ALLOW)
    op(_LD_ABS, 16)  # clone: the low word of its flags
    op(_JSET, _NAMESPACES, target=eperm_at)
    op(_RET, _ALLOW)
    op(_RET, _EPERM)
    op(_RET, _ENOSYS)
    assert len(code) == enosys_at + 1
    return b"".join(struct.pack("=HBBI", kind, jt, jf, k) for kind, jt, jf, k in code)


def program_fd() -> int:
    """A file descriptor holding the filter, at its start (bwrap reads it to the end)."""
    fd = os.memfd_create("thinkgate-seccomp", 0)
    os.write(fd, program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd

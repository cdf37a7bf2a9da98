"""A seccomp filter that closes the kernel's channels between runs.

A child may not use the kernel keyrings (``add_key``, ``request_key``,
``keyctl``: a key outlives the process and is shared by every process of the
uid), create System V IPC objects (``shmget``, ``semget``, ``msgget``: they
outlive the process and escape its address-space limit), or create or enter
namespaces (``unshare``, ``setns``, ``clone`` with a ``CLONE_NEW*`` flag: a
user namespace would give it capabilities over a fresh world). ``clone3``
answers ENOSYS, as on older kernels, so that the C library falls back to
``clone``, whose flags the filter can read. Everything else is allowed: the
filter narrows what the other layers already confine, and it needs no
privilege (only ``no_new_privs``).

The program is written out here (about twenty instructions) rather than built
with libseccomp, so that the child depends on no system library that a TA's
machine may lack; it knows x86-64 and AArch64 and refuses to start elsewhere.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

from .kernel import libc

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET

# architecture -> (AUDIT_ARCH_*, syscalls refused with EPERM, clone, unshare, clone3)
ARCHITECTURES = {
    "x86_64": (0xC000003E, {"add_key": 248, "request_key": 249, "keyctl": 250, "shmget": 29, "semget": 64,
                            "msgget": 68, "setns": 308}, 56, 272, 435),
    "aarch64": (0xC00000B7, {"add_key": 217, "request_key": 218, "keyctl": 219, "shmget": 194, "semget": 190,
                             "msgget": 186, "setns": 268}, 220, 97, 435),
}
X32_SYSCALL_BIT = 0x40000000

_LOAD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ARCH, _NR, _ARG0 = 4, 0, 16  # offsets in struct seccomp_data (little-endian low word of args[0])


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def supported() -> bool:
    """Whether this machine's architecture has a filter here."""
    return platform.machine() in ARCHITECTURES


def program(machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump if true, jump if false, k) instructions."""
    machine = machine or platform.machine()
    if machine not in ARCHITECTURES:
        raise OSError(errno.ENOSYS, f"no seccomp filter for {machine}")
    arch, refused, clone, unshare, clone3 = ARCHITECTURES[machine]
    deny = RET_ERRNO | errno.EPERM
    code = [(_LOAD, 0, 0, _ARCH), (_JEQ, 1, 0, arch), (_RET, 0, 0, RET_KILL_PROCESS), (_LOAD, 0, 0, _NR)]
    if machine == "x86_64":  # the x32 ABI numbers the same calls differently: refuse all of it
        code += [(_JGE, 0, 1, X32_SYSCALL_BIT), (_RET, 0, 0, deny)]
    for number in sorted(refused.values()):
        code += [(_JEQ, 0, 1, number), (_RET, 0, 0, deny)]
    code += [(_JEQ, 0, 1, clone3), (_RET, 0, 0, RET_ERRNO | errno.ENOSYS)]
    code += [(_JEQ, 1, 0, clone), (_JEQ, 0, 3, unshare),  # both: flags in args[0]
             (_LOAD, 0, 0, _ARG0), (_JSET, 0, 1, NAMESPACE_FLAGS), (_RET, 0, 0, deny)]
    code += [(_RET, 0, 0, RET_ALLOW)]
    return code


def install() -> None:
    """Apply the filter to this thread and its future children, irrevocably (needs no_new_privs)."""
    instructions = program()
    blob = b"".join(struct.pack("=HBBI", *instruction) for instruction in instructions)
    buffer = ctypes.create_string_buffer(blob, len(blob))
    fprog = _Program(len(instructions), ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog),
                  ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")

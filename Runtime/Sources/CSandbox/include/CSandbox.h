#ifndef SWIFTLET_CSANDBOX_H
#define SWIFTLET_CSANDBOX_H

/// Installs a seccomp filter on every thread of the calling process that refuses to start programs or
/// processes from now on: execve and execveat, fork and vfork, and clone without CLONE_THREAD fail with
/// EPERM; clone3 fails with ENOSYS, so glibc creates threads with clone instead (clone3 passes its flags in
/// memory, which a filter cannot read). ptrace, process_vm_writev and pidfd_getfd fail with EPERM too, so no
/// other process can be made to start one. x32 system calls and other architectures kill the process.
/// Threads keep working. The filter cannot be removed; it is inherited.
///
/// Returns 0, or the errno value of the step that failed (ENOSYS on an architecture it does not know).
int swiftlet_sandbox_deny_new_processes(void);

/// Installs, on the calling thread and what it starts, a seccomp filter for sandboxed skills: namespaces
/// (unshare, setns, clone with a CLONE_NEW* flag) and mounts are refused, and so are ptrace and the other
/// ways into another process, bpf, userfaultfd, io_uring, the key ring, perf events, file handles, module and
/// kexec loading, and personality. clone3 fails with ENOSYS (glibc then uses clone, whose flags the filter
/// can read). Other architectures' and x32 system calls kill the process. Sets no_new_privs first.
///
/// Returns 0, or the errno value of the step that failed.
int swiftlet_sandbox_deny_kernel_surface(void);

#endif

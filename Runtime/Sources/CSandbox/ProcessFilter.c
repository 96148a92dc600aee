#define _GNU_SOURCE
#include "CSandbox.h"

#include <errno.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SWIFTLET_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SWIFTLET_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define DENY(errno_value) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((errno_value) & SECCOMP_RET_DATA))
/// Two instructions: when the syscall number (in the accumulator) is `nr`, fail it with `errno_value`.
#define REFUSE(nr, errno_value) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), DENY(errno_value)

int swiftlet_sandbox_deny_new_processes(void) {
#ifndef SWIFTLET_AUDIT_ARCH
    return ENOSYS;
#else
    struct sock_filter filter[] = {
        // Another architecture's syscall numbers mean other calls: kill rather than misjudge.
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SWIFTLET_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
        // x32 system calls carry the same audit arch with bit 30 set in the number: none is expected here.
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
        // Another process of the sandbox (bwrap's init is outside this filter) must not be made to run programs.
        REFUSE(__NR_ptrace, EPERM),
        REFUSE(__NR_process_vm_writev, EPERM),
        REFUSE(__NR_pidfd_getfd, EPERM),
        REFUSE(__NR_execve, EPERM),
        REFUSE(__NR_execveat, EPERM),
#ifdef __NR_fork
        REFUSE(__NR_fork, EPERM),
#endif
#ifdef __NR_vfork
        REFUSE(__NR_vfork, EPERM),
#endif
        REFUSE(__NR_clone3, ENOSYS),
        // clone: allowed only for a thread (flags are the first argument on x86_64 and aarch64; the low word
        // holds CLONE_THREAD on these little-endian machines).
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 1, 0),
        DENY(EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {
        .len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
        .filter = filter,
    };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    long result = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program);
    if (result < 0) return errno;
    // A positive result is the id of a thread that could not be synchronised.
    if (result > 0) return EAGAIN;
    return 0;
#endif
}

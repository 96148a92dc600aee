#define _GNU_SOURCE
#include "CSandbox.h"

#include <linux/sched.h>

#include "SeccompProgram.h"

int swiftlet_sandbox_deny_new_processes(void) {
#ifndef SWIFTLET_AUDIT_ARCH
    return ENOSYS;
#else
    struct sock_filter filter[] = {
        SWIFTLET_FILTER_PROLOGUE
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
    return swiftlet_install_filter(filter, sizeof(filter) / sizeof(filter[0]), SECCOMP_FILTER_FLAG_TSYNC);
#endif
}

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
#define SURFACE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SURFACE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define SURFACE_DENY(errno_value) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((errno_value) & SECCOMP_RET_DATA))
#define SURFACE_REFUSE(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), SURFACE_DENY(EPERM)

/// Every flag of clone that makes a namespace.
#define NEW_NAMESPACES (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)

int swiftlet_sandbox_deny_kernel_surface(void) {
#ifndef SURFACE_AUDIT_ARCH
    return ENOSYS;
#else
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SURFACE_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
        // Namespaces, mounts: a new user namespace would hand the skill capabilities over fresh kernel objects.
        SURFACE_REFUSE(__NR_unshare),
        SURFACE_REFUSE(__NR_setns),
        SURFACE_REFUSE(__NR_mount),
        SURFACE_REFUSE(__NR_umount2),
        SURFACE_REFUSE(__NR_pivot_root),
        SURFACE_REFUSE(__NR_open_tree),
        SURFACE_REFUSE(__NR_move_mount),
        SURFACE_REFUSE(__NR_fsopen),
        SURFACE_REFUSE(__NR_fsconfig),
        SURFACE_REFUSE(__NR_fsmount),
        SURFACE_REFUSE(__NR_fspick),
        SURFACE_REFUSE(__NR_mount_setattr),
        // Other processes, and kernel interfaces a script has no use for and that keep being the way in.
        SURFACE_REFUSE(__NR_ptrace),
        SURFACE_REFUSE(__NR_process_vm_readv),
        SURFACE_REFUSE(__NR_process_vm_writev),
        SURFACE_REFUSE(__NR_pidfd_getfd),
        SURFACE_REFUSE(__NR_bpf),
        SURFACE_REFUSE(__NR_userfaultfd),
        SURFACE_REFUSE(__NR_io_uring_setup),
        SURFACE_REFUSE(__NR_io_uring_enter),
        SURFACE_REFUSE(__NR_io_uring_register),
        SURFACE_REFUSE(__NR_keyctl),
        SURFACE_REFUSE(__NR_add_key),
        SURFACE_REFUSE(__NR_request_key),
        SURFACE_REFUSE(__NR_perf_event_open),
        SURFACE_REFUSE(__NR_open_by_handle_at),
        SURFACE_REFUSE(__NR_name_to_handle_at),
        SURFACE_REFUSE(__NR_kexec_load),
        SURFACE_REFUSE(__NR_init_module),
        SURFACE_REFUSE(__NR_finit_module),
        SURFACE_REFUSE(__NR_delete_module),
        SURFACE_REFUSE(__NR_personality),
        // clone3 passes its flags in memory, which a filter cannot read: glibc falls back to clone.
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        SURFACE_DENY(ENOSYS),
        // clone: processes and threads yes, namespaces no (flags are the first argument on x86_64 and aarch64).
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NEW_NAMESPACES, 0, 1),
        SURFACE_DENY(EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {
        .len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
        .filter = filter,
    };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) return errno;
    return 0;
#endif
}

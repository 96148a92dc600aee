#define _GNU_SOURCE
#include "CSandbox.h"

#include <linux/sched.h>

#include "SeccompProgram.h"

#define SURFACE_REFUSE(nr) REFUSE(nr, EPERM)

/// Every flag of clone that makes a namespace.
#define NEW_NAMESPACES (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)

int swiftlet_sandbox_deny_kernel_surface(void) {
#ifndef SWIFTLET_AUDIT_ARCH
    return ENOSYS;
#else
    struct sock_filter filter[] = {
        SWIFTLET_FILTER_PROLOGUE
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
        DENY(ENOSYS),
        // clone: processes and threads yes, namespaces no (flags are the first argument on x86_64 and aarch64).
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NEW_NAMESPACES, 0, 1),
        DENY(EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    return swiftlet_install_filter(filter, sizeof(filter) / sizeof(filter[0]), 0);
#endif
}

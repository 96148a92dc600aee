#ifndef SWIFTLET_SECCOMP_PROGRAM_H
#define SWIFTLET_SECCOMP_PROGRAM_H

// What the seccomp filters of CSandbox share: the instructions that refuse a call, the check that a call is of
// this machine's architecture, and installing a filter.

#include <errno.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
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

#ifdef __x86_64__
/// x32 system calls carry the same audit arch with bit 30 set in the number: none is expected.
#define SWIFTLET_KILL_X32 BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#else
#define SWIFTLET_KILL_X32
#endif

/// The start of every filter: another architecture's syscall numbers mean other calls, so such a call kills the
/// process rather than be misjudged; then the syscall number is loaded into the accumulator.
#define SWIFTLET_FILTER_PROLOGUE                                                            \
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),                \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SWIFTLET_AUDIT_ARCH, 1, 0),                     \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),                                \
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)), SWIFTLET_KILL_X32

/// Sets no_new_privs and installs `filter` (on every thread with `flags` SECCOMP_FILTER_FLAG_TSYNC).
/// Returns 0 or an errno value (EAGAIN when a thread could not be synchronised).
static inline int swiftlet_install_filter(struct sock_filter *filter, size_t count, unsigned int flags) {
    struct sock_fprog program = {.len = (unsigned short)count, .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    long result = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
    if (result < 0) return errno;
    return result > 0 ? EAGAIN : 0;
}

#endif

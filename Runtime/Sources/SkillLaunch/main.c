// swiftlet-skill-launch: the first program a skill's sandbox runs (bwrap starts it; it then becomes the skill).
//
// It does, in this order, what must happen inside the sandbox and before any of the skill's code runs:
//   1. sets the resource limits (--limit NAME=VALUE: cpu, as, fsize, nofile, nproc, core);
//   2. when started as root (the gateway runs as root and bwrap made no user namespace), gives up root for good:
//      supplementary groups cleared, then gid and uid set to the unprivileged --uid/--gid; the kernel then clears
//      every capability;
//   3. sets the umask (--umask), no_new_privs (nothing it runs can gain privileges: setuid programs, file
//      capabilities);
//   4. unless exec is granted, restricts with Landlock which files may be executed: only the --exec-only paths
//      (the interpreter and its ELF loader), so the skill cannot execve any other program (it can still map code
//      itself, through the loader or its interpreter: this is not a boundary, the sandbox is);
//   5. installs a seccomp filter against namespaces, mounts, ptrace and other kernel surface (CSandbox);
//   6. with --proxy PORT:SOCKET, starts a relay from 127.0.0.1:PORT in the sandbox's own network namespace to
//      the gateway's filtering proxy on the Unix socket SOCKET (the only way out of the sandbox);
//   7. closes every other descriptor and executes the program after "--".
// Written in C so it adds under a millisecond to a run. Any failure stops the run before the skill starts, with
// "swiftlet-skill-launch: ..." on standard error and exit status 125.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "CSandbox.h"

#define FAILURE 125

static void fail(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fputs("swiftlet-skill-launch: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    exit(FAILURE);
}

static unsigned long long number(const char *text, const char *what) {
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') fail("%s is not a number: %s", what, text);
    return value;
}

static void set_limit(const char *assignment) {
    static const struct { const char *name; int resource; } names[] = {
        {"cpu", RLIMIT_CPU}, {"as", RLIMIT_AS}, {"fsize", RLIMIT_FSIZE},
        {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"core", RLIMIT_CORE},
    };
    const char *equals = strchr(assignment, '=');
    if (equals == NULL) fail("--limit needs NAME=VALUE: %s", assignment);
    for (size_t index = 0; index < sizeof names / sizeof names[0]; index++) {
        if (strlen(names[index].name) == (size_t)(equals - assignment) && strncmp(names[index].name, assignment, equals - assignment) == 0) {
            rlim_t value = (rlim_t)number(equals + 1, assignment);
            struct rlimit limit = {value, value};
            // RLIMIT_CPU: the soft limit sends SIGXCPU, the hard one a second later SIGKILL (if SIGXCPU is caught).
            if (names[index].resource == RLIMIT_CPU) limit.rlim_max = value + 1;
            if (setrlimit(names[index].resource, &limit) != 0) fail("setrlimit %s: %s", assignment, strerror(errno));
            return;
        }
    }
    fail("unknown limit: %s", assignment);
}

static void drop_root(uid_t uid, gid_t gid) {
    if (getuid() != 0 && geteuid() != 0) return;  // already unprivileged (a user namespace of a non-root gateway)
    if (uid == 0 || gid == 0) fail("started as root without --uid and --gid of an unprivileged user");
    if (setgroups(0, NULL) != 0) fail("setgroups: %s", strerror(errno));
    if (setresgid(gid, gid, gid) != 0) fail("setresgid %u: %s", gid, strerror(errno));
    if (setresuid(uid, uid, uid) != 0) fail("setresuid %u: %s", uid, strerror(errno));
    // Checked, not assumed: a failure here would leave the skill with root's rights.
    uid_t real, effective, saved;
    gid_t gidReal, gidEffective, gidSaved;
    if (getresuid(&real, &effective, &saved) != 0 || real != uid || effective != uid || saved != uid) fail("the uid did not change");
    if (getresgid(&gidReal, &gidEffective, &gidSaved) != 0 || gidReal != gid || gidEffective != gid || gidSaved != gid) fail("the gid did not change");
    if (setuid(0) == 0) fail("root could be regained");
}

static void restrict_execution(char **paths, int count) {
    struct landlock_ruleset_attr attributes = {.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attributes, sizeof attributes, 0);
    if (ruleset < 0) {
        fail("this kernel cannot restrict which programs a skill runs (Landlock: %s); grant \"exec\": true to run it anyway",
             strerror(errno));
    }
    for (int index = 0; index < count; index++) {
        int file = open(paths[index], O_PATH | O_CLOEXEC);
        if (file < 0) fail("%s: %s", paths[index], strerror(errno));
        struct landlock_path_beneath_attr rule = {.allowed_access = LANDLOCK_ACCESS_FS_EXECUTE, .parent_fd = file};
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0) {
            fail("landlock rule for %s: %s", paths[index], strerror(errno));
        }
        close(file);
    }
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) fail("landlock_restrict_self: %s", strerror(errno));
    close(ruleset);
}

// Copies bytes both ways between two sockets. When one side has finished sending, the other is told (its write
// side shut down) and the other direction goes on, until both are done or either fails.
static void relay(int left, int right) {
    struct pollfd sockets[2] = {{left, POLLIN, 0}, {right, POLLIN, 0}};
    int open_directions = 2;
    char buffer[16384];
    while (open_directions > 0) {
        if (poll(sockets, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int index = 0; index < 2; index++) {
            if (sockets[index].fd < 0 || !(sockets[index].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int other = index == 0 ? right : left;
            ssize_t count = read(sockets[index].fd, buffer, sizeof buffer);
            if (count < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                return;
            }
            if (count == 0) {
                shutdown(other, SHUT_WR);
                sockets[index].fd = -1;
                open_directions--;
                continue;
            }
            for (ssize_t sent = 0; sent < count;) {
                ssize_t written = write(other, buffer + sent, (size_t)(count - sent));
                if (written < 0 && errno == EINTR) continue;
                if (written <= 0) return;
                sent += written;
            }
        }
    }
}

// The relay to the gateway's filtering proxy: listens on loopback in the sandbox's network namespace (bwrap brings
// its loopback device up), and carries each connection to the Unix socket, where the gateway decides what it may
// reach. It runs as the skill's user, in the skill's limits: it holds no rights the skill lacks, and the decisions
// are all made outside the sandbox.
static void start_proxy_relay(const char *specification) {
    const char *colon = strchr(specification, ':');
    if (colon == NULL) fail("--proxy needs PORT:SOCKET");
    char port_text[16];
    size_t port_length = (size_t)(colon - specification);
    if (port_length == 0 || port_length >= sizeof port_text) fail("--proxy port: %s", specification);
    memcpy(port_text, specification, port_length);
    port_text[port_length] = '\0';
    unsigned long long port = number(port_text, "--proxy port");
    const char *path = colon + 1;
    struct sockaddr_un target = {.sun_family = AF_UNIX};
    if (port == 0 || port > 65535 || strlen(path) >= sizeof target.sun_path) fail("--proxy: %s", specification);
    strcpy(target.sun_path, path);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) fail("proxy relay socket: %s", strerror(errno));
    int yes = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0) fail("proxy relay bind: %s", strerror(errno));
    if (listen(listener, 64) != 0) fail("proxy relay listen: %s", strerror(errno));

    pid_t relay_process = fork();
    if (relay_process < 0) fail("proxy relay fork: %s", strerror(errno));
    if (relay_process > 0) {
        close(listener);
        return;
    }
    // The relay: one child per connection, reaped automatically.
    signal(SIGCHLD, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
        int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) {
            // Out of descriptors or processes (the skill's own limits) is passing: wait and go on.
            if (errno != EINTR && errno != ECONNABORTED) nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
            continue;
        }
        pid_t connection = fork();
        if (connection == 0) {
            close(listener);
            int upstream = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (upstream >= 0 && connect(upstream, (struct sockaddr *)&target, sizeof target) == 0) relay(client, upstream);
            _exit(0);
        }
        close(client);
    }
}

int main(int argc, char **argv) {
    uid_t uid = 0;
    gid_t gid = 0;
    char *exec_only[16];
    int exec_only_count = 0;
    const char *proxy = NULL;
    long umask_value = -1;
    int index = 1;
    for (; index < argc; index++) {
        const char *option = argv[index];
        if (strcmp(option, "--") == 0) {
            index++;
            break;
        }
        if (index + 1 >= argc) fail("%s needs a value", option);
        const char *value = argv[++index];
        if (strcmp(option, "--uid") == 0) {
            uid = (uid_t)number(value, "--uid");
        } else if (strcmp(option, "--gid") == 0) {
            gid = (gid_t)number(value, "--gid");
        } else if (strcmp(option, "--limit") == 0) {
            set_limit(value);
        } else if (strcmp(option, "--exec-only") == 0) {
            if (exec_only_count == (int)(sizeof exec_only / sizeof exec_only[0])) fail("too many --exec-only paths");
            exec_only[exec_only_count++] = (char *)value;
        } else if (strcmp(option, "--proxy") == 0) {
            proxy = value;
        } else if (strcmp(option, "--umask") == 0) {
            char *end = NULL;
            umask_value = strtol(value, &end, 8);
            if (end == value || *end != '\0' || umask_value < 0 || umask_value > 0777) fail("--umask needs an octal mode: %s", value);
        } else {
            fail("unknown option %s", option);
        }
    }
    if (index >= argc) fail("usage: swiftlet-skill-launch [options] -- PROGRAM [ARGUMENT...]");

    drop_root(uid, gid);
    if (umask_value >= 0) umask((mode_t)umask_value);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs: %s", strerror(errno));
    if (exec_only_count > 0) restrict_execution(exec_only, exec_only_count);
    int refused = swiftlet_sandbox_deny_kernel_surface();
    if (refused != 0) fail("seccomp filter: %s", strerror(refused));
    if (proxy != NULL) start_proxy_relay(proxy);
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
        for (int descriptor = 3; descriptor < 1024; descriptor++) close(descriptor);
    }
    execv(argv[index], &argv[index]);
    fail("%s: %s", argv[index], strerror(errno));
}

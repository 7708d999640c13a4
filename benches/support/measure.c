/* The launcher a benchmarked hook's dispatch runs the charm through:
 *
 *     measure PROGRAM [ARG...]
 *
 * It runs PROGRAM (the Rust charm binary, or the venv's python with
 * ./src/charm.py) as its child, traced for one event only: the child's exit
 * (PTRACE_O_TRACEEXIT; no syscall is traced, and the charm's own children,
 * the hook tools, are not traced at all). Stopped at that event the process
 * still has its memory and counters, so the launcher reads:
 *
 *   - the CPU time of the whole process, every thread, none of its children:
 *     the process CPU clock (clock_getcpuclockid), exact to the nanosecond;
 *   - its peak RSS: VmHWM in /proc/<pid>/status, the charm's own pages only
 *     (not those of the launcher it was forked from);
 *   - what it wrote: wchar and write_bytes in /proc/<pid>/io;
 *
 * appends them as one JSON line to $BENCH_MEASURE_OUT, lets the child exit,
 * and exits with its status. It works the same for a static binary (which
 * an LD_PRELOAD library cannot enter) and for python.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long read_field(pid_t pid, const char *file, const char *name) {
    char path[64], text[8192] = "";
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = '\0';
    const char *at = strstr(text, name);
    return at ? atoll(at + strlen(name)) : -1;
}

static long long since_us(const struct timespec *from) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)(now.tv_sec - from->tv_sec) * 1000000 + (now.tv_nsec - from->tv_nsec) / 1000;
}

static void record(pid_t pid, const struct timespec *started) {
    const char *out = getenv("BENCH_MEASURE_OUT");
    const char *hook = getenv("JUJU_DISPATCH_PATH");
    const char *unit = getenv("JUJU_UNIT_NAME");
    clockid_t clock;
    struct timespec cpu = {0, 0};
    if (out == NULL) return;
    if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &cpu) != 0) {
        cpu.tv_sec = -1;
    }
    long long own_wall_us = since_us(started);
    long long hwm = read_field(pid, "status", "VmHWM:");
    long long wchar = read_field(pid, "io", "wchar: ");
    long long write_bytes = read_field(pid, "io", "write_bytes: ");
    int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    dprintf(fd,
            "{\"unit\":\"%s\",\"hook\":\"%s\",\"cpu_us\":%lld,\"hwm_kib\":%lld,"
            "\"own_wall_us\":%lld,\"wchar\":%lld,\"write_bytes\":%lld}\n",
            unit ? unit : "", hook ? hook : "",
            cpu.tv_sec < 0 ? -1 : (long long)cpu.tv_sec * 1000000 + cpu.tv_nsec / 1000, hwm,
            own_wall_us, wchar, write_bytes);
    close(fd);
}

int main(int argc, char **argv) {
    struct timespec started;
    int status;
    if (argc < 2) {
        fprintf(stderr, "usage: measure PROGRAM [ARG...]\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &started);
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 1;
    }
    if (pid == 0) {
        /* Stops with SIGTRAP once exec'd, for the parent to set its options. */
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        execv(argv[1], argv + 1);
        perror("measure: exec");
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0) return 1;
    if (WIFSTOPPED(status)) {
        ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL));
        ptrace(PTRACE_CONT, pid, NULL, NULL);
    }
    for (;;) {
        if (waitpid(pid, &status, 0) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        if (!WIFSTOPPED(status)) continue;
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
            record(pid, &started);
            ptrace(PTRACE_CONT, pid, NULL, NULL);
        } else {
            /* A signal for the charm: deliver it. */
            ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(status));
        }
    }
}

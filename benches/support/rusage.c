/* Loaded with LD_PRELOAD into every process of a simulated hook (unshare,
 * sh, mount, the charm); active only in the one whose /proc/self/exe is
 * $BENCH_MEASURE_EXE, the charm. There it removes LD_PRELOAD from the
 * environment (so the hook tools the charm runs never load it) and, when the
 * charm exits, appends one JSON line to $BENCH_MEASURE_OUT with the charm
 * process's own resource use: getrusage(RUSAGE_SELF), which counts every
 * thread of the process and none of its children (the hook tools); its own
 * peak RSS, VmHWM from /proc/self/status (ru_maxrss would also count the
 * images this process exec'd from: unshare, sh); the time from this
 * constructor to exit; and its /proc/self/io write counters.
 *
 * Built by benches/pgbouncer-vs-python with `cc -shared -fPIC`. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int active;
static struct timespec started;

__attribute__((constructor)) static void bench_start(void) {
    const char *want = getenv("BENCH_MEASURE_EXE");
    char exe[4096];
    ssize_t n;
    if (want == NULL) return;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) return;
    exe[n] = '\0';
    if (strcmp(exe, want) != 0) return;
    active = 1;
    unsetenv("LD_PRELOAD");
    clock_gettime(CLOCK_MONOTONIC, &started);
}

static long long read_field(const char *path, const char *name) {
    char text[4096] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    const char *at;
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = '\0';
    at = strstr(text, name);
    return at ? atoll(at + strlen(name)) : -1;
}

__attribute__((destructor)) static void bench_stop(void) {
    struct rusage ru;
    struct timespec now;
    const char *out = getenv("BENCH_MEASURE_OUT");
    const char *hook = getenv("JUJU_DISPATCH_PATH");
    const char *unit = getenv("JUJU_UNIT_NAME");
    int fd;
    if (!active || out == NULL) return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    getrusage(RUSAGE_SELF, &ru);
    long long hwm = read_field("/proc/self/status", "VmHWM:");
    long long wchar = read_field("/proc/self/io", "wchar: ");
    long long write_bytes = read_field("/proc/self/io", "write_bytes: ");
    fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    dprintf(fd,
            "{\"unit\":\"%s\",\"hook\":\"%s\",\"utime_us\":%lld,\"stime_us\":%lld,"
            "\"hwm_kib\":%lld,\"maxrss_kib\":%ld,\"own_wall_us\":%lld,\"wchar\":%lld,\"write_bytes\":%lld}\n",
            unit ? unit : "", hook ? hook : "",
            (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, hwm, ru.ru_maxrss,
            (long long)(now.tv_sec - started.tv_sec) * 1000000 +
                (now.tv_nsec - started.tv_nsec) / 1000,
            wchar, write_bytes);
    close(fd);
}

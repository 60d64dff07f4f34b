#include "sluice/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define MIN_SIZE(a, b) ((a) < (b) ? (a) : (b))

static int current_level = SL_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sl_log_set_level(int level) { current_level = level; }
int sl_log_get_level(void) { return current_level; }

int sl_log_level_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
        if (strcmp(name, level_names[i]) == 0) return i;
    return -1;
}

void sl_log(int level, const char *fmt, ...)
{
    if (level > current_level) return;
    static const char *const tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), tags[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : MIN_SIZE((size_t)m, sizeof(line) - (size_t)n - 2));
    line[len++] = '\n';
    /* One write per line, so lines from a crash or a pipe never interleave. */
    fwrite(line, 1, len, stderr);
}

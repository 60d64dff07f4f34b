/* Logging: one line per event on stderr, "2026-11-21T10:00:00.123Z INFO  msg". */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum sl_log_level { SL_LOG_ERROR = 0, SL_LOG_WARN, SL_LOG_INFO, SL_LOG_DEBUG };

void sl_log_set_level(int level);
int sl_log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns the level or -1. */
int sl_log_level_parse(const char *name);
void sl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_log_enabled(level) ((level) <= sl_log_get_level())
#define SL_ERROR(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
#define SL_WARN(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define SL_INFO(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define SL_DEBUG(...) do { if (sl_log_enabled(SL_LOG_DEBUG)) sl_log(SL_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif

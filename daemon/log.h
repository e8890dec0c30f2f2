/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's logging: one line per message on stderr with a "<N>" syslog priority prefix,
 * which journald turns into the message's priority.  Only the daemon's outer layers log. */
#pragma once

#include <syslog.h>

#include "util.h"

/* Messages above this priority (numerically) are dropped; LOG_INFO unless $PORTD_LOG_LEVEL says. */
void log_set_max_level(int level);
/* Reads $PORTD_LOG_LEVEL: a number 0..7 or a name (err, warning, notice, info, debug). */
void log_parse_environment(void);

/* Logs and returns -abs(error) (0 stays 0), so that "return log_error_errno(r, ...)" works.
 * With error != 0, %m in fmt prints strerror(error). */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) log_internal((level), (error), __VA_ARGS__)
#define log_debug(...)                    log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)                     log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)                   log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)                  log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)                    log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(error, ...)       log_internal(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...)        log_internal(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...)      log_internal(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...)     log_internal(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...)       log_internal(LOG_ERR, (error), __VA_ARGS__)
#define log_oom()                         log_internal(LOG_ERR, ENOMEM, "Out of memory.")

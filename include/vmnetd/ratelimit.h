/* ratelimit.h - at most a few log lines per kind of message, so no guest can flood the log.
 *
 * A guest decides how often libslirp and vmnetd log: each ICMPv6 echo to
 * the outside logs a "Slirp-CRITICAL" line (20,000 packets, 1.6 MB of log).
 * Messages are grouped by a key: log domain, level and the text with its
 * numbers (addresses, ports, counts, MAC octets) blanked to "#". Each key
 * passes at most a burst per interval, all keys together at most a total;
 * what is held back is counted and reported once, as "N similar messages
 * suppressed", when the key's interval is over and the next line is logged
 * (or at ratelimit_flush()).
 */
#ifndef VMNETD_RATELIMIT_H
#define VMNETD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* 10 lines of one kind per 10 s tell what happens; more only fill disks. */
#define RATELIMIT_BURST		10
#define RATELIMIT_INTERVAL_NS	(10 * 1000000000LL)
/* Guest text in a message (a DHCP host name) makes new keys: all keys
 * together pass at most 100 lines per interval, 10 a second. */
#define RATELIMIT_TOTAL		100
/* Keys remembered; past this, new kinds share one key until old ones go idle. */
#define RATELIMIT_KEYS_MAX	256
/* Room for a key; messages alike in their first ~150 bytes share one. */
#define RATELIMIT_KEY_MAX	160

struct ratelimit;

/* A limiter passing @burst messages per key and @total over all keys per @interval_ns. */
struct ratelimit *ratelimit_new(unsigned burst, unsigned total, int64_t interval_ns);
/* Free @rl (NULL is fine); unreported counts are lost. */
void ratelimit_free(struct ratelimit *rl);
/* Whether a message with @key may be logged at @now_ns (monotonic); if
 * not, it is counted for the key's report. */
bool ratelimit_allow(struct ratelimit *rl, const char *key, int64_t now_ns);

typedef void (*ratelimit_report_fn)(const char *key, unsigned suppressed, void *opaque);
/* Call @fn for each key whose interval is over at @now_ns with messages
 * held back, and start its next interval. Cheap when nothing is due. */
void ratelimit_report(struct ratelimit *rl, int64_t now_ns, ratelimit_report_fn fn, void *opaque);

/* Write the key of a log message into @out (@size bytes, NUL-terminated):
 * "domain \x1f level \x1f text", each number and hex word in text as "#". */
void ratelimit_key(char *out, size_t size, const char *domain, GLogLevelFlags level,
		   const char *message);

/* Rate-limit what is logged through g_log() (libslirp's "Slirp" domain,
 * and vmnetd's own warnings and debug lines; not vmnetd's own messages,
 * one per attach, close or lease, which other caps bound) with the defaults
 * above, by replacing GLib's default log handler. Explicit, never automatic: unit tests that expect fatal
 * criticals keep GLib's handling. Fatal messages always pass. Call after
 * set-up, so start-up lines are not counted. Idempotent. */
void ratelimit_install(void);
/* Report every count held back now, e.g. before exit. */
void ratelimit_flush(void);
/* Give GLib its default handler back (reports what is held back first). */
void ratelimit_uninstall(void);

#endif

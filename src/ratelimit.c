/* ratelimit.c - a fixed-window budget per kind of log message, and the GLib log handler that applies it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmnetd/ratelimit.h"

#define SEP '\x1f'	/* between domain, level and text in a key: never in a domain */

struct rl_entry {
	int64_t window_ns;	/* start of its interval */
	unsigned passed, suppressed;
	char key[];
};

struct ratelimit {
	unsigned burst, total, total_passed;
	int64_t interval_ns, total_window_ns;
	int64_t next_due_ns;		/* earliest report due; INT64_MAX: none */
	GHashTable *keys;		/* key -> struct rl_entry * (owns it) */
	struct rl_entry *overflow;	/* shared by new keys while the table is full */
};

static struct ratelimit *installed;
static GMutex installed_lock;

static struct rl_entry *entry_new(const char *key, int64_t now_ns)
{
	size_t n = strlen(key) + 1;
	struct rl_entry *e = g_malloc0(sizeof(*e) + n);

	memcpy(e->key, key, n);
	e->window_ns = now_ns;
	return e;
}

struct ratelimit *ratelimit_new(unsigned burst, unsigned total, int64_t interval_ns)
{
	struct ratelimit *rl = g_new0(struct ratelimit, 1);

	rl->burst = burst;
	rl->total = total;
	rl->interval_ns = interval_ns;
	rl->total_window_ns = INT64_MIN / 2;
	rl->next_due_ns = INT64_MAX;
	rl->keys = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	rl->overflow = entry_new("\x1f\x1f(other messages)", 0);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	g_hash_table_destroy(rl->keys);
	g_free(rl->overflow);
	g_free(rl);
}

static bool window_over(const struct ratelimit *rl, int64_t start_ns, int64_t now_ns)
{
	return now_ns - start_ns >= rl->interval_ns;
}

struct sweep {
	const struct ratelimit *rl;
	int64_t now_ns;
};

/* Nothing to report and its interval over: forgetting it changes nothing. */
static gboolean idle(gpointer key, gpointer value, gpointer data)
{
	const struct rl_entry *e = value;
	const struct sweep *sw = data;

	(void)key;
	return !e->suppressed && window_over(sw->rl, e->window_ns, sw->now_ns);
}

/* The entry counting @key; when the table is full, idle keys go, and if
 * none can, the shared overflow entry counts it. */
static struct rl_entry *entry_for(struct ratelimit *rl, const char *key, int64_t now_ns)
{
	struct rl_entry *e = g_hash_table_lookup(rl->keys, key);

	if (e)
		return e;
	if (g_hash_table_size(rl->keys) >= RATELIMIT_KEYS_MAX) {
		g_hash_table_foreach_remove(rl->keys, idle, &(struct sweep){ rl, now_ns });
		if (g_hash_table_size(rl->keys) >= RATELIMIT_KEYS_MAX)
			return rl->overflow;
	}
	e = entry_new(key, now_ns);
	g_hash_table_insert(rl->keys, e->key, e);
	return e;
}

bool ratelimit_allow(struct ratelimit *rl, const char *key, int64_t now_ns)
{
	struct rl_entry *e = entry_for(rl, key, now_ns);

	if (!e->suppressed && window_over(rl, e->window_ns, now_ns)) {
		e->window_ns = now_ns;	/* with a count held back, the report restarts it */
		e->passed = 0;
	}
	if (window_over(rl, rl->total_window_ns, now_ns)) {
		rl->total_window_ns = now_ns;
		rl->total_passed = 0;
	}
	if (e->passed < rl->burst && rl->total_passed < rl->total) {
		e->passed++;
		rl->total_passed++;
		return true;
	}
	e->suppressed++;
	rl->next_due_ns = MIN(rl->next_due_ns, e->window_ns + rl->interval_ns);
	return false;
}

/* Report @e if due (or @all); returns its next due time (INT64_MAX: none). */
static int64_t report_entry(struct ratelimit *rl, struct rl_entry *e, int64_t now_ns, bool all,
			    ratelimit_report_fn fn, void *opaque)
{
	if (!e->suppressed)
		return INT64_MAX;
	if (!all && !window_over(rl, e->window_ns, now_ns))
		return e->window_ns + rl->interval_ns;
	fn(e->key, e->suppressed, opaque);
	e->suppressed = 0;
	e->passed = 0;
	e->window_ns = now_ns;
	return INT64_MAX;
}

static void report(struct ratelimit *rl, int64_t now_ns, bool all, ratelimit_report_fn fn,
		   void *opaque)
{
	GHashTableIter it;
	gpointer value;
	int64_t due;

	if (!all && now_ns < rl->next_due_ns)
		return;
	due = report_entry(rl, rl->overflow, now_ns, all, fn, opaque);
	g_hash_table_iter_init(&it, rl->keys);
	while (g_hash_table_iter_next(&it, NULL, &value))
		due = MIN(due, report_entry(rl, value, now_ns, all, fn, opaque));
	rl->next_due_ns = due;
}

void ratelimit_report(struct ratelimit *rl, int64_t now_ns, ratelimit_report_fn fn, void *opaque)
{
	report(rl, now_ns, false, fn, opaque);
}

/* All hex digits and at least one decimal digit: an address, a MAC octet, a number. */
static bool numberish(const char *s, size_t n)
{
	bool digit = false;

	for (size_t i = 0; i < n; i++) {
		if (!g_ascii_isxdigit(s[i]))
			return false;
		digit |= g_ascii_isdigit(s[i]);
	}
	return digit;
}

void ratelimit_key(char *out, size_t size, const char *domain, GLogLevelFlags level,
		   const char *message)
{
	int head = snprintf(out, size, "%s%c%d%c", domain ? domain : "", SEP,
			    level & G_LOG_LEVEL_MASK, SEP);
	size_t o = head < 0 ? 0 : MIN((size_t)head, size - 1);
	const char *s = message;

	while (*s && o + 1 < size) {
		size_t n = 0;

		while (g_ascii_isalnum(s[n]))
			n++;
		if (n && numberish(s, n)) {
			out[o++] = '#';
			s += n;
			continue;
		}
		for (const char *end = s + MAX(n, (size_t)1); s < end && o + 1 < size;) {
			if (!g_ascii_isdigit(*s)) {
				out[o++] = *s++;
				continue;
			}
			out[o++] = '#';		/* "icmpv6" and "icmpv4" are one word */
			while (s < end && g_ascii_isdigit(*s))
				s++;
		}
	}
	out[o] = '\0';
}

/* A report held until the lock is dropped: GLib may log while we print. */
struct pending {
	GPtrArray *keys;
	GArray *counts;
};

static void collect(const char *key, unsigned suppressed, void *opaque)
{
	struct pending *p = opaque;

	g_ptr_array_add(p->keys, g_strdup(key));
	g_array_append_val(p->counts, suppressed);
}

/* "N similar messages suppressed" in the key's own domain and level. */
static void print_reports(struct pending *p)
{
	for (guint i = 0; i < p->keys->len; i++) {
		char *key = p->keys->pdata[i], *level_s = strchr(key, SEP), *text;
		GLogLevelFlags level = G_LOG_LEVEL_MESSAGE;
		char *msg;

		if (level_s) {
			*level_s++ = '\0';
			level = (GLogLevelFlags)(strtol(level_s, NULL, 10) & G_LOG_LEVEL_MASK);
			text = strchr(level_s, SEP);
			text = text ? text + 1 : level_s;
		} else {
			text = key;
		}
		msg = g_strdup_printf("%u similar messages suppressed (\"%s\", # for numbers)",
				      g_array_index(p->counts, unsigned, i), text);
		g_log_default_handler(key[0] ? key : NULL, level ? level : G_LOG_LEVEL_MESSAGE,
				      msg, NULL);
		g_free(msg);
	}
	g_ptr_array_free(p->keys, TRUE);
	g_array_free(p->counts, TRUE);
}

/* Report what is due (everything when @all), then print outside the lock. */
static void report_installed(int64_t now_ns, bool all)
{
	struct pending p = { g_ptr_array_new_with_free_func(g_free),
			     g_array_new(FALSE, FALSE, sizeof(unsigned)) };

	g_mutex_lock(&installed_lock);
	if (installed)
		report(installed, now_ns, all, collect, &p);
	g_mutex_unlock(&installed_lock);
	print_reports(&p);
}

static bool would_drop(GLogLevelFlags level, const char *domain)
{
#if GLIB_CHECK_VERSION(2, 68, 0)
	return g_log_writer_default_would_drop(level & G_LOG_LEVEL_MASK, domain);
#else
	(void)level;
	(void)domain;
	return false;
#endif
}

static void handler(const gchar *domain, GLogLevelFlags level, const gchar *message,
		    gpointer data)
{
	int64_t now_ns = g_get_monotonic_time() * 1000;
	char key[RATELIMIT_KEY_MAX];
	bool pass = true;

	if (level & (G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION | G_LOG_LEVEL_ERROR)) {
		g_log_default_handler(domain, level, message, data);	/* the last words */
		return;
	}
	if (would_drop(level, domain))
		return;		/* debug without --debug: not worth a key */
	if (!domain && (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))) {
		/* vmnetd's own record of events: a port attached or closed, a
		 * lease given. Other caps bound them (max-ports=, leases per
		 * port), and tests and operators wait on every one. */
		g_log_default_handler(domain, level, message, data);
		return;
	}
	ratelimit_key(key, sizeof(key), domain, level, message ? message : "");
	report_installed(now_ns, false);
	g_mutex_lock(&installed_lock);
	if (installed)
		pass = ratelimit_allow(installed, key, now_ns);
	g_mutex_unlock(&installed_lock);
	if (pass)
		g_log_default_handler(domain, level, message, data);
}

void ratelimit_install(void)
{
	g_mutex_lock(&installed_lock);
	if (!installed)
		installed = ratelimit_new(RATELIMIT_BURST, RATELIMIT_TOTAL, RATELIMIT_INTERVAL_NS);
	g_mutex_unlock(&installed_lock);
	g_log_set_default_handler(handler, NULL);
}

void ratelimit_flush(void)
{
	report_installed(g_get_monotonic_time() * 1000, true);
}

void ratelimit_uninstall(void)
{
	g_log_set_default_handler(g_log_default_handler, NULL);
	ratelimit_flush();
	g_mutex_lock(&installed_lock);
	ratelimit_free(installed);
	installed = NULL;
	g_mutex_unlock(&installed_lock);
}

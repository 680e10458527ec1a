/* test_ratelimit.c - the log budget driven by a test clock (bursts, reports,
 * the total cap, a full key table), message keys, and the installed GLib
 * handler in a subprocess (the ICMPv6 flood of "Slirp-CRITICAL" lines). */
#include <glib.h>
#include <string.h>

#include "vmnetd/ratelimit.h"

#define SEC 1000000000LL

struct seen {
	unsigned reports, suppressed;
	char last[RATELIMIT_KEY_MAX];
};

static void count(const char *key, unsigned suppressed, void *opaque)
{
	struct seen *s = opaque;

	s->reports++;
	s->suppressed += suppressed;
	g_strlcpy(s->last, key, sizeof(s->last));
}

static unsigned allow_n(struct ratelimit *rl, const char *key, unsigned n, int64_t now)
{
	unsigned passed = 0;

	while (n--)
		passed += ratelimit_allow(rl, key, now);
	return passed;
}

static void test_burst_then_report(void)
{
	struct ratelimit *rl = ratelimit_new(10, 1000, 10 * SEC);
	struct seen s = { 0 };

	g_assert_cmpuint(allow_n(rl, "a", 25, SEC), ==, 10);
	g_assert_cmpuint(allow_n(rl, "b", 3, SEC), ==, 3);		/* keys are apart */
	ratelimit_report(rl, 10 * SEC, count, &s);			/* 9 s: not yet */
	g_assert_cmpuint(s.reports, ==, 0);
	g_assert_cmpuint(allow_n(rl, "a", 5, 10 * SEC), ==, 0);	/* held until reported */
	ratelimit_report(rl, 11 * SEC, count, &s);
	g_assert_cmpuint(s.reports, ==, 1);
	g_assert_cmpuint(s.suppressed, ==, 20);
	g_assert_cmpstr(s.last, ==, "a");
	ratelimit_report(rl, 11 * SEC, count, &s);			/* once */
	g_assert_cmpuint(s.reports, ==, 1);
	g_assert_cmpuint(allow_n(rl, "a", 12, 11 * SEC), ==, 10);
	g_assert_cmpuint(allow_n(rl, "b", 12, 12 * SEC), ==, 10);	/* b's window was over */
	ratelimit_report(rl, 30 * SEC, count, &s);
	g_assert_cmpuint(s.reports, ==, 3);
	g_assert_cmpuint(s.suppressed, ==, 24);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

/* New text in every message (a guest's host name) still meets the total. */
static void test_total_cap(void)
{
	struct ratelimit *rl = ratelimit_new(10, 100, 10 * SEC);
	struct seen s = { 0 };
	unsigned passed = 0;
	char key[32];

	for (int i = 0; i < 5000; i++) {
		g_snprintf(key, sizeof(key), "host-%c%c", 'a' + i % 26, 'a' + i / 26 % 26);
		passed += ratelimit_allow(rl, key, SEC + i);
	}
	g_assert_cmpuint(passed, ==, 100);
	ratelimit_report(rl, 20 * SEC, count, &s);
	g_assert_cmpuint(s.suppressed, ==, 4900);
	g_assert_cmpuint(allow_n(rl, "host-aa", 1, 20 * SEC), ==, 1);
	ratelimit_free(rl);
}

/* A full table puts new keys on one shared entry; idle keys make room. */
static void test_full_table(void)
{
	struct ratelimit *rl = ratelimit_new(2, 1000000, 10 * SEC);
	struct seen s = { 0 };
	unsigned passed = 0;
	char key[32];

	for (int i = 0; i < 10 * RATELIMIT_KEYS_MAX; i++) {
		g_snprintf(key, sizeof(key), "k%d", i);
		passed += allow_n(rl, key, 3, SEC);
	}
	g_assert_cmpuint(passed, ==, (RATELIMIT_KEYS_MAX + 1) * 2);
	ratelimit_report(rl, 11 * SEC, count, &s);
	g_assert_cmpuint(s.reports, ==, RATELIMIT_KEYS_MAX + 1);
	g_assert_cmpuint(s.suppressed, ==, 30 * RATELIMIT_KEYS_MAX - passed);
	g_assert_cmpuint(allow_n(rl, "fresh", 3, 22 * SEC), ==, 2);	/* idle ones went */
	ratelimit_free(rl);
}

static void test_keys(void)
{
	char a[RATELIMIT_KEY_MAX], b[RATELIMIT_KEY_MAX], small[12];

	ratelimit_key(a, sizeof(a), "Slirp", G_LOG_LEVEL_CRITICAL,
		      "external icmpv6 not supported yet");
	g_assert_cmpstr(a, ==, "Slirp\x1f" "8\x1f" "external icmpv# not supported yet");
	ratelimit_key(a, sizeof(a), NULL, G_LOG_LEVEL_MESSAGE | G_LOG_FLAG_FATAL,
		      "nat: 52:54:00:12:34:5e is 10.0.2.15, port 40000");
	ratelimit_key(b, sizeof(b), NULL, G_LOG_LEVEL_MESSAGE,
		      "nat: 52:54:00:12:34:5f is 10.0.2.16, port 40001");
	g_assert_cmpstr(a, ==, b);
	g_assert_cmpstr(a, ==, "\x1f" "32\x1f" "nat: #:#:#:#:#:# is #.#.#.#, port #");
	ratelimit_key(b, sizeof(b), NULL, G_LOG_LEVEL_WARNING,
		      "nat: 52:54:00:12:34:5f is 10.0.2.16, port 40001");
	g_assert_cmpstr(a, !=, b);					/* levels apart */
	ratelimit_key(small, sizeof(small), "Slirp", G_LOG_LEVEL_DEBUG, "a long message");
	g_assert_cmpuint(strlen(small), ==, sizeof(small) - 1);
	ratelimit_key(small, sizeof(small), "a-domain-longer-than-the-key", G_LOG_LEVEL_DEBUG,
		      "x");
	g_assert_cmpuint(strlen(small), ==, sizeof(small) - 1);
}

/* The review's flood: 20,000 identical libslirp criticals (numbers vary in
 * ours) print 10 lines each and one report. */
static void test_installed_subprocess(void)
{
	if (g_test_subprocess()) {
		g_log_set_always_fatal(G_LOG_FATAL_MASK);	/* criticals as in the daemon */
		ratelimit_install();
		ratelimit_install();
		for (int i = 0; i < 20000; i++) {
			g_log("Slirp", G_LOG_LEVEL_CRITICAL, "external icmpv6 not supported yet");
			g_warning("refused packet %d from 10.0.2.%d", i, i % 250);
			if (i < 3)	/* vmnetd's own messages record events: all pass */
				g_message("client %d: connected", i);
		}
		ratelimit_flush();
		ratelimit_uninstall();
		g_message("after uninstall");
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("*Slirp-CRITICAL **: *external icmpv6 not supported yet*"
				  "*client 2: connected*"
				  "*refused packet 9 from 10.0.2.9*"
				  "*19990 similar messages suppressed*icmpv#*"
				  "*after uninstall*");
	g_test_trap_assert_stderr_unmatched("*refused packet 10 from*");
}

/* Fatal messages pass at once: the test framework's expectations hold. */
static void test_fatal_passes(void)
{
	if (g_test_subprocess()) {
		ratelimit_install();
		for (int i = 0; i < 20; i++)
			g_message("same");
		g_critical("the last words");		/* fatal under g_test */
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_failed();
	g_test_trap_assert_stderr("*the last words*");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ratelimit/burst-then-report", test_burst_then_report);
	g_test_add_func("/ratelimit/total-cap", test_total_cap);
	g_test_add_func("/ratelimit/full-table", test_full_table);
	g_test_add_func("/ratelimit/keys", test_keys);
	g_test_add_func("/ratelimit/installed", test_installed_subprocess);
	g_test_add_func("/ratelimit/fatal-passes", test_fatal_passes);
	return g_test_run();
}

/* test_privs.c - --user/--group checks, the drop itself and the seccomp filter, each in a child. */
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "vmnetd/privs.h"

static char *check_msg(const char *user, const char *group)
{
	GError *err = NULL;
	char *msg = NULL;

	if (!privs_check(user, group, &err)) {
		msg = g_strdup(err->message);
		g_error_free(err);
	}
	return msg;
}

static void test_bad_names(void)
{
	g_autofree char *u = check_msg("no-such-user-vmnetd", NULL);
	g_autofree char *g = check_msg("root", "no-such-group-vmnetd");
	g_autofree char *only_group = check_msg(NULL, "root");
	g_autofree char *no_passwd = check_msg("4000000000", NULL);

	g_assert_cmpstr(u, ==, "--user no-such-user-vmnetd: no such user");
	g_assert_cmpstr(g, ==, "--group no-such-group-vmnetd: no such group");
	g_assert_cmpstr(only_group, ==, "--group root needs --user");
	g_assert_cmpstr(no_passwd, ==,
			"--user 4000000000: not in the password database, so give --group");
	g_assert_null(check_msg(NULL, NULL));
	g_assert_true(privs_drop(NULL, NULL, false, NULL));
}

/* Runs @fn in a child; returns its wait status. */
static int in_child(void (*fn)(void))
{
	pid_t pid = fork();
	int st = 0;

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
	return st;
}

static void drop_to_numeric_ids(void)
{
	GError *err = NULL;

	if (!privs_drop("65534", "65534", false, &err)) {
		g_printerr("%s\n", err->message);
		_exit(1);
	}
	_exit(getuid() == 65534 && getgid() == 65534 && getgroups(0, NULL) == 0 &&
	      setuid(0) < 0 ? 0 : 2);
}

static void test_drop(void)
{
	int st;

	if (geteuid() != 0) {
		g_test_skip("needs root");
		return;
	}
	st = in_child(drop_to_numeric_ids);

	g_assert_true(WIFEXITED(st));
	g_assert_cmpint(WEXITSTATUS(st), ==, 0);
}

static void install_then_personality(void)
{
	GError *err = NULL;

	if (!seccomp_install(false, &err)) {
		g_printerr("%s\n", err->message);
		_exit(1);
	}
	seccomp_selftest();
	_exit(0);
}

static void test_seccomp_kills(void)
{
	int st;

	if (VMNETD_SANITIZED) {
		g_test_skip("--seccomp is for release builds");
		return;
	}
	st = in_child(install_then_personality);

	g_assert_true(WIFSIGNALED(st));
	g_assert_cmpint(WTERMSIG(st), ==, SIGSYS);
}

static void test_seccomp_refused_sanitized(void)
{
	GError *err = NULL;

	if (!VMNETD_SANITIZED) {
		g_test_skip("a release build");
		return;
	}
	g_assert_false(seccomp_install(false, &err));
	g_assert_nonnull(strstr(err->message, "for release builds"));
	g_error_free(err);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/privs/check/bad-names", test_bad_names);
	g_test_add_func("/privs/drop/numeric-ids", test_drop);
	g_test_add_func("/privs/seccomp/kills", test_seccomp_kills);
	g_test_add_func("/privs/seccomp/refused-sanitized", test_seccomp_refused_sanitized);
	return g_test_run();
}

/* test_s4compat.c - slirp4netns's command line rewritten into vmnetd's. */
#include <glib.h>
#include <string.h>

#include "vmnetd/s4compat.h"

/* The value after @opt in @argv, or NULL; "" for a flag without one. */
static const char *value_of(char **argv, const char *opt)
{
	for (int i = 1; argv[i]; i++)
		if (!strcmp(argv[i], opt))
			return argv[i + 1] && strncmp(argv[i + 1], "--", 2) ? argv[i + 1] : "";
	return NULL;
}

static char **translate(const char *line, GError **err)
{
	g_auto(GStrv) argv = g_strsplit(line, " ", -1);
	bool done = false;
	char **out = s4compat_translate((int)g_strv_length(argv), argv, &done, err);

	g_assert_false(done);
	return out;
}

static void test_wanted(void)
{
	char *by_name[] = { "/usr/bin/slirp4netns", "1", NULL };
	char *by_arg[] = { "vmnetd", "slirp4netns", "1", NULL };
	char *plain[] = { "vmnetd", "--netns", "1", NULL };

	g_assert_true(s4compat_wanted(2, by_name));
	g_assert_true(s4compat_wanted(3, by_arg));
	g_assert_false(s4compat_wanted(3, plain));
}

/* What rootless podman runs, less the sandbox. */
static void test_podman_line(void)
{
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) out = translate("slirp4netns --disable-host-loopback --mtu=65520 "
				      "--enable-seccomp -c -e 3 -r 4 --netns-type=path "
				      "/run/user/1000/netns/x tap0", &err);

	g_assert_no_error(err);
	g_assert_cmpstr(out[0], ==, "slirp4netns");
	g_assert_cmpstr(value_of(out, "--network"), ==,
			"default,mode=nat,net=10.0.2.0/24,dhcpstart=10.0.2.100,mtu=65520,ipv6=off,"
			"host-loopback=off");
	g_assert_cmpstr(value_of(out, "--netns"), ==, "/run/user/1000/netns/x");
	g_assert_cmpstr(value_of(out, "--netns-type"), ==, "path");
	g_assert_cmpstr(value_of(out, "--ifname"), ==, "tap0");
	g_assert_cmpstr(value_of(out, "--configure"), ==, "");
	g_assert_cmpstr(value_of(out, "--exit-fd"), ==, "3");
	g_assert_cmpstr(value_of(out, "--ready-fd"), ==, "4");
	g_assert_cmpstr(value_of(out, "--seccomp"), ==, "");
	g_assert_cmpstr(value_of(out, "--exit-with-netns"), ==, "");
	/* slirp4netns makes no socket it was not asked for. */
	g_assert_cmpstr(value_of(out, "--api-socket"), ==, "none");
}

static void test_defaults_and_keys(void)
{
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) a = translate("vmnetd slirp4netns 1234", &err);
	g_auto(GStrv) b = NULL;

	g_assert_no_error(err);
	/* slirp4netns's own defaults: MTU 1500, no IPv6, tap0, no --configure. */
	g_assert_cmpstr(value_of(a, "--network"), ==,
			"default,mode=nat,net=10.0.2.0/24,dhcpstart=10.0.2.100,mtu=1500,ipv6=off");
	g_assert_cmpstr(value_of(a, "--ifname"), ==, "tap0");
	g_assert_cmpstr(value_of(a, "--netns-type"), ==, "pid");
	g_assert_null(value_of(a, "--configure"));
	g_assert_null(value_of(a, "--exit-fd"));

	b = translate("slirp4netns -6 --cidr=192.168.7.0/24 --disable-dns --outbound-addr=eth0 "
		      "--api-socket /tmp/s4.sock -c --macaddress 02:00:00:00:00:05 "
		      "--userns-path /proc/9/ns/user 9 eth0", &err);
	g_assert_no_error(err);
	g_assert_cmpstr(value_of(b, "--network"), ==,
			"default,mode=nat,net=192.168.7.0/24,dhcpstart=192.168.7.100,mtu=1500,"
			"ipv6=on,ipv6-net=fd00::/64,dns-forward=off,outbound-addr=eth0");
	g_assert_cmpstr(value_of(b, "--api-socket"), ==, "/tmp/s4.sock");
	g_assert_cmpstr(value_of(b, "--macaddress"), ==, "02:00:00:00:00:05");
	g_assert_cmpstr(value_of(b, "--userns"), ==, "/proc/9/ns/user");
	g_assert_cmpstr(value_of(b, "--ifname"), ==, "eth0");
}

/* What vmnetd cannot do is refused by name, never ignored. */
static void test_refusals(void)
{
	static const struct {
		const char *line, *message;
	} cases[] = {
		{ "slirp4netns --enable-sandbox 1 tap0", "--enable-sandbox is not supported" },
		{ "slirp4netns --target-type=bess /tmp/b.sock", "--target-type" },
		{ "slirp4netns --macaddress 02:00:00:00:00:01 1 tap0", "only valid with -c" },
		{ "slirp4netns --cidr=10.0.2.0/99 1 tap0", "--cidr" },
		{ "slirp4netns --no-such-option 1", "--no-such-option" },
		{ "slirp4netns", "expected PID|PATH [TAPNAME]" },
		{ "slirp4netns 1 tap0 extra", "expected PID|PATH [TAPNAME]" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) err = NULL;
		g_auto(GStrv) out = translate(cases[i].line, &err);

		g_assert_null(out);
		g_assert_nonnull(err);
		if (!strstr(err->message, cases[i].message))
			g_error("%s: got '%s', want '%s'", cases[i].line, err->message,
				cases[i].message);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/s4compat/wanted", test_wanted);
	g_test_add_func("/s4compat/podman-line", test_podman_line);
	g_test_add_func("/s4compat/defaults-and-keys", test_defaults_and_keys);
	g_test_add_func("/s4compat/refusals", test_refusals);
	return g_test_run();
}

/* main.c - vmnetd's command line, start-up, signals and shutdown. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "config.h"
#include "vmnetd/error.h"
#include "vmnetd/network.h"
#include "vmnetd/relay.h"

#define EXIT_BAD_OPTION 2

struct options {
	char **listen, **connect, **nat;
	char *socket_mode;
	char *relay_target;
	gboolean debug, version;
};

static bool parse_mode(const char *s, unsigned *mode, GError **err)
{
	guint64 v;

	if (!g_ascii_string_to_unsigned(s, 8, 0, 0777, &v, NULL)) {
		vmnetd_set_error(err, "--socket-mode %s: expected an octal mode such as 0660", s);
		return false;
	}
	*mode = v;
	return true;
}

static bool parse_command_line(int *argc, char ***argv, struct options *o, GError **err)
{
	GOptionEntry entries[] = {
		{ "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &o->listen,
		  "Accept QEMU -netdev stream clients on unix:PATH or tcp:[HOST:]PORT (repeatable)",
		  "ADDR" },
		{ "connect", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &o->connect,
		  "Connect to a QEMU running -netdev stream,server=on (repeatable)", "ADDR" },
		{ "nat", 'n', 0, G_OPTION_ARG_STRING_ARRAY, &o->nat,
		  "NAT network options in QEMU -netdev user syntax: net=, host=, dhcpstart=, dns=, "
		  "dnssearch=, domainname=, hostname=, restrict=, ipv4=, ipv6=, ipv6-net=, "
		  "ipv6-host=, ipv6-dns=, tftp=, bootfile=, hostfwd=, guestfwd=, mtu= (repeatable)",
		  "OPTS" },
		{ "socket-mode", 0, 0, G_OPTION_ARG_STRING, &o->socket_mode,
		  "Permissions of unix sockets created (octal, default 0600)", "MODE" },
		{ "debug", 'd', 0, G_OPTION_ARG_NONE, &o->debug, "Log per-port detail", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &o->version, "Print the version and exit",
		  NULL },
		{ "guestfwd-relay", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &o->relay_target,
		  "Internal: relay stdin/stdout to ADDR", "ADDR" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);

	g_option_context_set_summary(ctx,
		"User-space networking for virtual machines: NAT (DHCP, DNS, port forwards)\n"
		"behind an Ethernet switch that QEMU VMs join with -netdev stream.");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, argc, argv, err))
		return false;
	if (*argc > 1) {
		vmnetd_set_error(err, "unexpected argument '%s'", (*argv)[1]);
		return false;
	}
	return true;
}

static char *default_socket_path(void)
{
	if (geteuid() == 0)
		return g_strdup("/run/vmnetd/default.sock");
	return g_build_filename(g_get_user_runtime_dir(), "vmnetd", "default.sock", NULL);
}

/* Neither --listen nor --connect: listen on the default socket. */
static bool wants_default_socket(const struct options *o)
{
	return !o->listen && !o->connect;
}

/* Parse every address and NAT option before anything is created. */
static bool check_options(struct options *o, struct nat_config *nat, GArray *listen,
			  GArray *connect, unsigned *mode, GError **err)
{
	*mode = 0600;
	if (o->socket_mode && !parse_mode(o->socket_mode, mode, err))
		return false;
	for (char **s = o->nat; s && *s; s++)
		if (!nat_config_parse(nat, *s, err))
			return false;
	if (!nat_config_finish(nat, err))
		return false;
	for (char **s = o->listen; s && *s; s++) {
		struct endpoint ep;

		if (!endpoint_parse(*s, "--listen", &ep, err))
			return false;
		g_array_append_val(listen, ep);
	}
	for (char **s = o->connect; s && *s; s++) {
		struct endpoint ep;

		if (!endpoint_parse(*s, "--connect", &ep, err))
			return false;
		g_array_append_val(connect, ep);
	}
	if (wants_default_socket(o)) {
		struct endpoint ep = { .type = ENDPOINT_UNIX, .path = default_socket_path() };

		g_array_append_val(listen, ep);
	}
	return true;
}

/* The default socket's directory is ours to create; others must exist. */
static bool make_default_dir(GArray *listen, const struct options *o, GError **err)
{
	g_autofree char *dir = NULL;

	if (!wants_default_socket(o))
		return true;
	dir = g_path_get_dirname(g_array_index(listen, struct endpoint, 0).path);
	if (g_mkdir_with_parents(dir, 0700) < 0) {
		vmnetd_set_error(err, "cannot create %s: %s", dir, g_strerror(errno));
		return false;
	}
	return true;
}

static void print_qemu_args(GArray *listen)
{
	for (guint i = 0; i < listen->len; i++) {
		struct endpoint *ep = &g_array_index(listen, struct endpoint, i);
		g_autofree char *name = endpoint_to_string(ep);
		g_autofree char *id = g_strdup_printf("vmnet%u", i);
		g_autofree char *args = endpoint_qemu_args(ep, id);

		printf("Attach a VM to %s with these QEMU arguments:\n  %s\n", name, args);
	}
	if (listen->len)
		printf("Several VMs may share a socket; give each its own MAC "
		       "(-device virtio-net-pci,netdev=...,mac=52:54:00:xx:xx:xx).\n");
	fflush(stdout);
}

struct signals {
	struct loop *loop;
	struct loop_watch watch;
	int fd;
};

static void on_signal(void *opaque, uint32_t events)
{
	struct signals *sg = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(sg->fd, &si, sizeof(si)) != sizeof(si))
		return;
	g_message("%s: shutting down", strsignal(si.ssi_signo));
	loop_quit(sg->loop);
}

/* SIGINT and SIGTERM arrive as loop events, so shutdown runs in order. */
static bool watch_signals(struct signals *sg, struct loop *l, GError **err)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sg->loop = l;
	sg->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sg->fd < 0) {
		vmnetd_set_error(err, "signalfd: %s", g_strerror(errno));
		return false;
	}
	return loop_watch_add(l, &sg->watch, sg->fd, EPOLLIN, on_signal, sg, err);
}

static void endpoint_array_clear(void *p)
{
	endpoint_clear(p);
}

/* Every guest connection through NAT is a host socket: take all the
 * descriptors we are allowed, not the 1024 a shell usually starts with. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run(struct options *o)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GArray) listen = g_array_new(FALSE, TRUE, sizeof(struct endpoint));
	g_autoptr(GArray) connect = g_array_new(FALSE, TRUE, sizeof(struct endpoint));
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	struct nat_config nat;
	struct signals sg = { .fd = -1 };
	struct network *net = NULL;
	struct loop *l = NULL;
	unsigned mode;
	int status = EXIT_FAILURE;

	g_array_set_clear_func(listen, endpoint_array_clear);
	g_array_set_clear_func(connect, endpoint_array_clear);
	nat_config_init(&nat);
	if (!check_options(o, &nat, listen, connect, &mode, &err)) {
		g_printerr("vmnetd: %s\n", err->message);
		nat_config_clear(&nat);
		return EXIT_BAD_OPTION;
	}
	if (!make_default_dir(listen, o, &err)) {
		g_printerr("vmnetd: %s\n", err->message);
		nat_config_clear(&nat);
		return EXIT_FAILURE;
	}
	raise_fd_limit();
	l = loop_new();
	if (!watch_signals(&sg, l, &err))
		goto out;
	net = network_new_nat(l, &nat, self ? self : "vmnetd", &err);
	if (!net)
		goto out;
	for (guint i = 0; i < listen->len; i++)
		if (!network_listen(net, &g_array_index(listen, struct endpoint, i), mode, &err))
			goto out;
	for (guint i = 0; i < connect->len; i++)
		network_connect(net, &g_array_index(connect, struct endpoint, i));

	print_qemu_args(listen);
	loop_run(l);
	status = EXIT_SUCCESS;
out:
	if (err)
		g_printerr("vmnetd: %s\n", err->message);
	network_free(net);
	if (sg.fd >= 0) {
		loop_watch_del(l, &sg.watch);
		close(sg.fd);
	}
	loop_free(l);
	nat_config_clear(&nat);
	return status;
}

static void options_clear(struct options *o)
{
	g_strfreev(o->listen);
	g_strfreev(o->connect);
	g_strfreev(o->nat);
	g_free(o->socket_mode);
	g_free(o->relay_target);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	g_autoptr(GError) err = NULL;
	int status;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!parse_command_line(&argc, &argv, &o, &err)) {
		g_printerr("vmnetd: %s\nTry 'vmnetd --help'.\n", err->message);
		options_clear(&o);
		return EXIT_BAD_OPTION;
	}
	if (o.version) {
		printf("vmnetd %s (libslirp %s)\n", VMNETD_VERSION, slirp_version_string());
		status = EXIT_SUCCESS;
	} else if (o.relay_target) {
		/* Started by the daemon through libslirp, so born with SIGINT and
		 * SIGTERM blocked: let them end the relay again. */
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		status = relay_run(o.relay_target);
	} else {
		if (o.debug)
			g_log_set_debug_enabled(TRUE);
		status = run(&o);
	}
	options_clear(&o);
	return status;
}

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
#include "vmnetd/flowcap.h"
#include "vmnetd/netconf.h"
#include "vmnetd/network.h"
#include "vmnetd/privs.h"
#include "vmnetd/ratelimit.h"
#include "vmnetd/relay.h"

#define EXIT_BAD_OPTION 2

struct options {
	char **listen, **connect, **nat, **network;
	char *config, *socket_mode;
	char *relay_target, *relay_slots;
	char *user, *group;
	gboolean debug, version, seccomp, seccomp_selftest;
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
		{ "network", 'N', 0, G_OPTION_ARG_STRING_ARRAY, &o->network,
		  "Declare a network: NAME,mode=nat|hostonly,KEY=VALUE... (repeatable)",
		  "SPEC" },
		{ "config", 'C', 0, G_OPTION_ARG_FILENAME, &o->config,
		  "Read networks from a key file, one group per network", "FILE" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &o->listen,
		  "Accept QEMU -netdev stream clients on unix:PATH or tcp:[HOST:]PORT, "
		  "with ,network=NAME when there are several (repeatable)", "ADDR" },
		{ "connect", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &o->connect,
		  "Connect to a QEMU running -netdev stream,server=on, with ,network=NAME "
		  "when there are several (repeatable)", "ADDR" },
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
		{ "user", 'u', 0, G_OPTION_ARG_STRING, &o->user,
		  "After set-up, run as this user (name or uid; needs root)", "USER" },
		{ "group", 'g', 0, G_OPTION_ARG_STRING, &o->group,
		  "After set-up, run with this group (default: the user's)", "GROUP" },
		{ "seccomp", 0, 0, G_OPTION_ARG_NONE, &o->seccomp,
		  "After set-up, allow only the system calls the daemon needs (release builds)",
		  NULL },
		{ "seccomp-selftest", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE,
		  &o->seccomp_selftest, "Internal: make a forbidden call after set-up", NULL },
		{ "relay-slots", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &o->relay_slots,
		  "Internal: the guestfwd relay slots to take one of", "KEY" },
		{ "guestfwd-relay", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &o->relay_target,
		  "Internal: relay stdin/stdout to ADDR", "ADDR" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);

	g_option_context_set_summary(ctx,
		"User-space networking for virtual machines: NAT (DHCP, DNS, port forwards)\n"
		"and host-only networks behind Ethernet switches that QEMU VMs join with\n"
		"-netdev stream. With no --network, one NAT network called default.");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, argc, argv, err))
		return false;
	if (*argc > 1) {
		vmnetd_set_error(err, "unexpected argument '%s'", (*argv)[1]);
		return false;
	}
	return true;
}

static char *default_socket_dir(void)
{
	if (geteuid() == 0)
		return g_strdup("/run/vmnetd");
	return g_build_filename(g_get_user_runtime_dir(), "vmnetd", NULL);
}

/* Parse every option and network before anything is created. */
static bool check_options(struct options *o, struct vmnetd_config *cfg, unsigned *mode,
			  GError **err)
{
	g_autofree char *dir = default_socket_dir();
	struct config_args a = { .networks = o->network, .nat = o->nat, .listen = o->listen,
				 .connect = o->connect, .config_file = o->config,
				 .socket_dir = dir };

	*mode = 0600;
	if (o->socket_mode && !parse_mode(o->socket_mode, mode, err))
		return false;
	if (!privs_check(o->user, o->group, err))
		return false;
	return vmnetd_config_load(cfg, &a, err);
}

/* The default sockets' directory is ours to create; others must exist. */
static bool make_default_dirs(const struct vmnetd_config *cfg, GError **err)
{
	for (guint i = 0; i < cfg->networks->len; i++) {
		const struct net_config *nc = g_ptr_array_index(cfg->networks, i);
		g_autofree char *dir = NULL;

		if (!nc->default_socket)
			continue;
		dir = g_path_get_dirname(g_array_index(nc->listen, struct endpoint, 0).path);
		if (g_mkdir_with_parents(dir, 0700) < 0) {
			vmnetd_set_error(err, "cannot create %s: %s", dir, g_strerror(errno));
			return false;
		}
	}
	return true;
}

static void print_qemu_args(const struct vmnetd_config *cfg)
{
	unsigned n = 0;

	for (guint i = 0; i < cfg->networks->len; i++) {
		const struct net_config *nc = g_ptr_array_index(cfg->networks, i);

		for (guint j = 0; j < nc->listen->len; j++) {
			struct endpoint *ep = &g_array_index(nc->listen, struct endpoint, j);
			g_autofree char *name = endpoint_to_string(ep);
			g_autofree char *id = g_strdup_printf("vmnet%u", n++);
			g_autofree char *args = endpoint_qemu_args(ep, id);

			printf("Attach a VM to network %s (%s) with these QEMU arguments:\n  %s\n",
			       nc->name, name, args);
		}
	}
	if (n)
		printf("Several VMs may share a socket; give each its own MAC "
		       "(-device virtio-net-pci,netdev=...,mac=52:54:00:xx:xx:xx).\n");
	fflush(stdout);
}

struct signals {
	struct loop *loop;
	struct loop_watch watch;
	int fd;
};

/* Signals that end the daemon in order, and signals that would otherwise
 * kill it without cleanup (their default action) and mean nothing yet. */
static const int quit_signals[] = { SIGINT, SIGTERM, SIGQUIT };
static const int ignored_signals[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGALRM };

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGQUIT: return "SIGQUIT";
	case SIGHUP: return "SIGHUP";
	case SIGUSR1: return "SIGUSR1";
	case SIGUSR2: return "SIGUSR2";
	case SIGALRM: return "SIGALRM";
	default: return "signal";
	}
}

static bool is_quit_signal(int sig)
{
	for (size_t i = 0; i < G_N_ELEMENTS(quit_signals); i++)
		if (quit_signals[i] == sig)
			return true;
	return false;
}

static void on_signal(void *opaque, uint32_t events)
{
	struct signals *sg = opaque;
	struct signalfd_siginfo si;

	(void)events;
	while (read(sg->fd, &si, sizeof(si)) == sizeof(si)) {
		const char *name = signal_name(si.ssi_signo);

		if (is_quit_signal(si.ssi_signo)) {
			g_message("%s: shutting down", name);
			loop_quit(sg->loop);
		} else if (si.ssi_signo == SIGHUP) {
			g_message("%s: ignored (no configuration reload yet)", name);
		} else {
			g_message("%s: ignored", name);
		}
	}
}

/* Every signal we handle arrives as a loop event, so shutdown runs in
 * order and nothing is done inside a handler. */
static bool watch_signals(struct signals *sg, struct loop *l, GError **err)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < G_N_ELEMENTS(quit_signals); i++)
		sigaddset(&set, quit_signals[i]);
	for (size_t i = 0; i < G_N_ELEMENTS(ignored_signals); i++)
		sigaddset(&set, ignored_signals[i]);
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

/* Every guest flow through libslirp costs a descriptor: the networks share
 * half of what this process may open. Set after raise_fd_limit(). */
static void share_flow_budget(struct vmnetd_config *cfg)
{
	unsigned budget = flowcap_budget(cfg->networks->len);

	for (guint i = 0; i < cfg->networks->len; i++)
		((struct net_config *)g_ptr_array_index(cfg->networks, i))->flow_budget = budget;
}

/* Builds every network with its sockets; false with @err at the first failure. */
static bool build_networks(struct loop *l, const struct vmnetd_config *cfg, bool from_nat,
			   unsigned mode, const char *relay_exe, GPtrArray *nets, GError **err)
{
	for (guint i = 0; i < cfg->networks->len; i++) {
		const struct net_config *nc = g_ptr_array_index(cfg->networks, i);
		g_autofree char *what = from_nat ? g_strdup("--nat")
						 : g_strdup_printf("network %s", nc->name);
		struct network *net = network_new(l, nc, what, relay_exe, err);

		if (!net)
			return false;
		g_ptr_array_add(nets, net);
		for (guint j = 0; j < nc->listen->len; j++)
			if (!network_listen(net, &g_array_index(nc->listen, struct endpoint, j),
					    mode, err))
				return false;
		for (guint j = 0; j < nc->connect->len; j++)
			if (!network_connect(net, &g_array_index(nc->connect, struct endpoint, j),
					     err))
				return false;
	}
	return true;
}

/* Only a TAP (host-iface=) needs a capability after set-up. */
static bool needs_net_admin(const struct vmnetd_config *cfg)
{
	for (guint i = 0; i < cfg->networks->len; i++) {
		const struct net_config *nc = g_ptr_array_index(cfg->networks, i);

		if (nc->mode == NET_MODE_HOSTONLY && nc->ho.host_iface)
			return true;
	}
	return false;
}

/* A guestfwd= to a TCP target makes libslirp fork and exec a relay. */
static bool nat_execs(const struct net_config *nc)
{
	if (nc->mode != NET_MODE_NAT || !nc->nat.guestfwds)
		return false;
	for (guint i = 0; i < nc->nat.guestfwds->len; i++)
		if (g_array_index(nc->nat.guestfwds, struct guestfwd, i).target.type !=
		    ENDPOINT_UNIX)
			return true;
	return false;
}

static bool needs_exec(const struct vmnetd_config *cfg)
{
	for (guint i = 0; i < cfg->networks->len; i++)
		if (nat_execs(g_ptr_array_index(cfg->networks, i)))
			return true;
	return false;
}

/* Everything is built: give up what the loop does not need. */
static bool least_privilege(const struct options *o, const struct vmnetd_config *cfg,
			    GError **err)
{
	if (!privs_drop(o->user, o->group, needs_net_admin(cfg), err))
		return false;
	if (o->seccomp && !seccomp_install(needs_exec(cfg), err))
		return false;
	if (o->seccomp_selftest)
		seccomp_selftest();
	return true;
}

static int run(struct options *o)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	struct vmnetd_config cfg;
	struct signals sg = { .fd = -1 };
	GPtrArray *nets = g_ptr_array_new();
	struct loop *l = NULL;
	unsigned mode;
	int status = EXIT_FAILURE;

	vmnetd_config_init(&cfg);
	if (!check_options(o, &cfg, &mode, &err)) {
		g_printerr("vmnetd: %s\n", err->message);
		vmnetd_config_clear(&cfg);
		g_ptr_array_free(nets, TRUE);
		return EXIT_BAD_OPTION;
	}
	if (!make_default_dirs(&cfg, &err))
		goto out;
	raise_fd_limit();
	share_flow_budget(&cfg);
	l = loop_new();
	if (!watch_signals(&sg, l, &err))
		goto out;
	if (!build_networks(l, &cfg, !o->network && !o->config, mode, self ? self : "vmnetd",
			    nets, &err))
		goto out;
	if (!least_privilege(o, &cfg, &err))
		goto out;
	print_qemu_args(&cfg);
	/* From here on guests can make the daemon log: no line more than a
	 * few times per interval. */
	ratelimit_install();
	loop_run(l);
	ratelimit_flush();
	ratelimit_uninstall();
	status = EXIT_SUCCESS;
out:
	if (err)
		g_printerr("vmnetd: %s\n", err->message);
	for (guint i = 0; i < nets->len; i++)
		network_free(g_ptr_array_index(nets, i));
	g_ptr_array_free(nets, TRUE);
	if (sg.fd >= 0) {
		loop_watch_del(l, &sg.watch);
		close(sg.fd);
	}
	loop_free(l);
	vmnetd_config_clear(&cfg);
	return status;
}

static void options_clear(struct options *o)
{
	g_strfreev(o->listen);
	g_strfreev(o->connect);
	g_strfreev(o->nat);
	g_strfreev(o->network);
	g_free(o->config);
	g_free(o->socket_mode);
	g_free(o->relay_target);
	g_free(o->relay_slots);
	g_free(o->user);
	g_free(o->group);
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
		/* Started by the daemon through libslirp, so born with every
		 * signal of watch_signals() blocked: unblock them all, so that
		 * they act on the relay as on any program. */
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		status = relay_run(o.relay_target, o.relay_slots);
	} else {
		if (o.debug)
			g_log_set_debug_enabled(TRUE);
		status = run(&o);
	}
	options_clear(&o);
	return status;
}

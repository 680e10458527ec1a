/* main.c - vmnetd's command line, start-up, signals and shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
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
#include "vmnetd/daemon.h"
#include "vmnetd/error.h"
#include "vmnetd/flowcap.h"
#include "vmnetd/netconf.h"
#include "vmnetd/paths.h"
#include "vmnetd/privs.h"
#include "vmnetd/ratelimit.h"
#include "vmnetd/relay.h"
#include "vmnetd/s4compat.h"
#include "vmnetd/supervise.h"

#define EXIT_BAD_OPTION 2

struct options {
	char **listen, **connect, **nat, **network, **fds, **netns;
	char *netns_type, *userns, *ifname, *macaddress;
	gboolean configure, exit_with_netns;
	char *config, *socket_mode, *socket_group, *api_socket, *pid_file;
	char *relay_target, *relay_slots;
	char *user, *group;
	int ready_fd, exit_fd;
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

static char *help_description(void)
{
	g_autofree char *dir = vmnetd_socket_dir();

	return g_strdup_printf(
		"Default socket: %s/default.sock (a VM attaches there); control socket:\n"
		"%s/default.api (vmnetctl talks to it).\n\n"
		"Examples:\n"
		"  vmnetd                                   one NAT network, default socket\n"
		"  vmnetd --nat hostfwd=tcp:127.0.0.1:2280-:22\n"
		"  vmnetd --network lab,mode=hostonly,net=192.168.56.0/24 --network wan\n"
		"  vmnetd --config /etc/vmnetd/vmnetd.conf --socket-group kvm\n\n"
		"Exit status: 0 after a clean shutdown (SIGTERM, SIGINT, SIGQUIT, --exit-fd,\n"
		"the API's shutdown), 1 on a run-time failure (a socket or port in use),\n"
		"2 on bad options. SIGHUP reloads --config; SIGUSR1/2 and SIGPIPE are ignored.",
		dir, dir);
}

/* Only then is the default socket directory worked out for the help text:
 * GLib may create a cache directory to answer, which a guestfwd relay (this
 * program too, under the daemon's seccomp filter) must not do. */
static bool asks_for_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (g_str_has_prefix(argv[i], "--help") || !strcmp(argv[i], "-h") ||
		    !strcmp(argv[i], "-?"))
			return true;
	return false;
}

static bool parse_command_line(int *argc, char ***argv, struct options *o, GError **err)
{
	GOptionEntry entries[] = {
		{ "network", 'N', 0, G_OPTION_ARG_STRING_ARRAY, &o->network,
		  "Declare a network: NAME,mode=nat|hostonly,KEY=VALUE... (repeatable)",
		  "SPEC" },
		{ "config", 'C', 0, G_OPTION_ARG_FILENAME, &o->config,
		  "Read networks from a key file, one group per network; SIGHUP reloads it",
		  "FILE" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &o->listen,
		  "Accept QEMU -netdev stream clients on unix:PATH or tcp:[HOST:]PORT, "
		  "-netdev dgram on dgram:unix:PATH or dgram:udp:[HOST:]PORT, -netdev "
		  "vhost-user on vhost-user:PATH; with ,network=NAME when there are several "
		  "(repeatable)", "ADDR" },
		{ "connect", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &o->connect,
		  "Connect to a QEMU running -netdev stream,server=on, with ,network=NAME "
		  "when there are several (repeatable)", "ADDR" },
		{ "nat", 'n', 0, G_OPTION_ARG_STRING_ARRAY, &o->nat,
		  "NAT network options in QEMU -netdev user syntax: net=, host=, dhcpstart=, dns=, "
		  "dnssearch=, domainname=, hostname=, restrict=, ipv4=, ipv6=, ipv6-net=, "
		  "ipv6-host=, ipv6-dns=, tftp=, bootfile=, hostfwd=, guestfwd=, mtu= (repeatable)",
		  "OPTS" },
		{ "fd", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->fds,
		  "A connected stream socket (QEMU -netdev stream framing) handed over as "
		  "descriptor N, with ,network=NAME when there are several (repeatable)",
		  "N" },
		{ "netns", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->netns,
		  "Make a TAP in the network namespace of process PID (or at PATH, with "
		  "--netns-type=path) a port, as slirp4netns does; ,network=NAME as for "
		  "--listen (repeatable)", "PID|PATH" },
		{ "netns-type", 0, 0, G_OPTION_ARG_STRING, &o->netns_type,
		  "What --netns names: pid (default) or path", "pid|path" },
		{ "userns", 0, 0, G_OPTION_ARG_FILENAME, &o->userns,
		  "User namespace to enter for --netns (default: the process's, when not root)",
		  "PATH" },
		{ "ifname", 0, 0, G_OPTION_ARG_STRING, &o->ifname,
		  "The TAP's name inside --netns (default tap0)", "NAME" },
		{ "configure", 0, 0, G_OPTION_ARG_NONE, &o->configure,
		  "Set the --netns TAP up: .100 of the network (10.0.2.100/24), the network's "
		  "MTU, lo up, default route via the gateway", NULL },
		{ "exit-with-netns", 0, 0, G_OPTION_ARG_NONE, &o->exit_with_netns,
		  "Shut down when a --netns namespace's process exits (as slirp4netns)", NULL },
		{ "macaddress", 0, 0, G_OPTION_ARG_STRING, &o->macaddress,
		  "The --netns TAP's MAC (default: random, locally administered)", "MAC" },
		{ "api-socket", 'a', 0, G_OPTION_ARG_FILENAME, &o->api_socket,
		  "Control socket (JSON, see vmnetctl); default beside the first network's "
		  "socket, NAME.api; none: no control socket", "PATH" },
		{ "socket-mode", 0, 0, G_OPTION_ARG_STRING, &o->socket_mode,
		  "Permissions of the VM sockets created (octal, default 0600; 0660 with "
		  "--socket-group)", "MODE" },
		{ "socket-group", 0, 0, G_OPTION_ARG_STRING, &o->socket_group,
		  "Give this group the sockets (VM and control) and their default directory",
		  "GROUP" },
		{ "ready-fd", 'r', 0, G_OPTION_ARG_INT, &o->ready_fd,
		  "Write \"1\" to this descriptor once every socket listens, then close it", "FD" },
		{ "exit-fd", 'e', 0, G_OPTION_ARG_INT, &o->exit_fd,
		  "Shut down cleanly when the other end of this descriptor closes", "FD" },
		{ "pid-file", 0, 0, G_OPTION_ARG_FILENAME, &o->pid_file,
		  "Write the daemon's pid here", "PATH" },
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
	g_autofree char *description = asks_for_help(*argc, *argv) ? help_description() : NULL;

	g_option_context_set_summary(ctx,
		"User-space networking for virtual machines: NAT (DHCP, DNS, port forwards)\n"
		"and host-only networks behind Ethernet switches that QEMU VMs join with\n"
		"-netdev stream. With no --network, one NAT network called default.");
	g_option_context_set_description(ctx, description);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, argc, argv, err))
		return false;
	if (*argc > 1) {
		vmnetd_set_error(err, "unexpected argument '%s'", (*argv)[1]);
		return false;
	}
	return true;
}

/* What the command line says beyond the networks, checked. */
struct run_settings {
	struct socket_perms perms;
	char *socket_dir;
	char **passed_names;		/* networks systemd gave a socket */
	char **attached;		/* networks with --fd or --netns at start: on
					 * reload they get no default socket either */
};

static bool check_fd(const char *opt, int fd, GError **err)
{
	if (fd < 0 || fcntl(fd, F_GETFD) >= 0)
		return true;
	vmnetd_set_error(err, "%s %d: not an open descriptor", opt, fd);
	return false;
}

static bool check_settings(struct options *o, struct run_settings *rs, GError **err)
{
	rs->perms = (struct socket_perms){ 0600, (gid_t)-1 };
	if (o->socket_group) {
		rs->perms.mode = 0660;
		if (!privs_group_id("--socket-group", o->socket_group, &rs->perms.group, err))
			return false;
	}
	if (o->socket_mode && !parse_mode(o->socket_mode, &rs->perms.mode, err))
		return false;
	return check_fd("--ready-fd", o->ready_fd, err) &&
	       check_fd("--exit-fd", o->exit_fd, err) && privs_check(o->user, o->group, err);
}

/* The networks, parsed and checked before anything is created. --fd and
 * --netns count at start only: by a reload an fd number may name another
 * file and a pid another process, and under --seccomp no helper may be
 * forked; a network built again on reload goes without them. */
static bool load_config(struct options *o, const struct run_settings *rs, bool at_start,
			struct vmnetd_config *cfg, GError **err)
{
	struct config_args a = { .networks = o->network, .nat = o->nat, .listen = o->listen,
				 .connect = o->connect, .config_file = o->config,
				 .socket_dir = rs->socket_dir,
				 .passed = at_start ? rs->passed_names : rs->attached,
				 .fds = at_start ? o->fds : NULL,
				 .netns = at_start ? o->netns : NULL,
				 .netns_type = o->netns_type, .userns = o->userns,
				 .ifname = o->ifname, .macaddress = o->macaddress,
				 .netns_configure = o->configure, .netns_exit = o->exit_with_netns };

	return vmnetd_config_load(cfg, &a, err);
}

/* The default sockets' directory is ours to create (0700, or 0750 for
 * --socket-group); others must exist. */
static bool make_socket_dir(const char *dir, const struct socket_perms *perms, GError **err)
{
	if (g_mkdir_with_parents(dir, 0700) < 0) {
		vmnetd_set_error(err, "cannot create %s: %s", dir, g_strerror(errno));
		return false;
	}
	if (perms->group != (gid_t)-1 &&
	    (chown(dir, (uid_t)-1, perms->group) < 0 || chmod(dir, 0750) < 0)) {
		vmnetd_set_error(err, "%s: cannot give it to --socket-group: %s", dir,
				 g_strerror(errno));
		return false;
	}
	return true;
}

/* The control socket's default place may be the socket directory too. */
static bool api_in_socket_dir(const struct vmnetd_config *cfg, const struct options *o,
			      const struct run_settings *rs)
{
	g_autofree char *path = NULL, *dir = NULL;

	if (o->api_socket || g_strv_contains((const char *const *)rs->passed_names, "api"))
		return false;
	path = daemon_default_api_path(cfg, rs->socket_dir);
	dir = g_path_get_dirname(path);
	return !strcmp(dir, rs->socket_dir);
}

static bool make_default_dirs(const struct vmnetd_config *cfg, const struct options *o,
			      const struct run_settings *rs, GError **err)
{
	bool needed = api_in_socket_dir(cfg, o, rs);

	for (guint i = 0; i < cfg->networks->len; i++)
		needed |= ((const struct net_config *)g_ptr_array_index(cfg->networks, i))
				  ->default_socket;
	return !needed || make_socket_dir(rs->socket_dir, &rs->perms, err);
}

/* The QEMU arguments for each socket, each with a MAC of its own: a locally
 * administered 52:54:00 (QEMU's), then our pid, then a count, so VMs
 * started from two lines, or from two daemons, do not collide. */
static char *qemu_args_text(const struct vmnetd_config *cfg)
{
	GString *out = g_string_new(NULL);
	unsigned pid = (unsigned)getpid(), n = 0;

	for (guint i = 0; i < cfg->networks->len; i++) {
		const struct net_config *nc = g_ptr_array_index(cfg->networks, i);

		for (guint j = 0; j < nc->listen->len; j++) {
			struct endpoint *ep = &g_array_index(nc->listen, struct endpoint, j);
			g_autofree char *name = endpoint_to_string(ep);
			g_autofree char *id = g_strdup_printf("vmnet%u", n++);
			g_autofree char *args = endpoint_qemu_args(ep, id, nc->mtu);

			g_string_append_printf(out, "Attach a VM to network %s (%s) with these QEMU "
					       "arguments:\n  %s,mac=52:54:00:%02x:%02x:%02x\n",
					       nc->name, name, args, (pid >> 8) & 0xff, pid & 0xff,
					       n & 0xff);
			if (ep->vhost)
				g_string_append(out, "  (size= must equal -m; vectors=0 avoids a QEMU 7.2 "
						"crash under TCG, and with -accel kvm may go)\n");
		}
	}
	if (n)
		g_string_append(out, "Several VMs may share a socket: give each its own mac= "
			       "(count the last byte up).\n");
	return g_string_free(out, FALSE);
}

struct signals {
	struct loop *loop;
	struct loop_watch watch;
	int fd;
	void (*reload)(void *opaque);	/* SIGHUP; NULL: nothing to reload */
	void *opaque;
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
		} else if (si.ssi_signo == SIGHUP && sg->reload) {
			g_message("%s: reloading the configuration", name);
			sg->reload(sg->opaque);
		} else if (si.ssi_signo == SIGHUP) {
			g_message("%s: ignored (no --config file to reload)", name);
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

/* Only a TAP made at run time (host-iface=, bridge=, macvtap=) needs a
 * capability after set-up. */
static bool needs_net_admin(const struct vmnetd_config *cfg)
{
	for (guint i = 0; i < cfg->networks->len; i++) {
		const struct net_config *nc = g_ptr_array_index(cfg->networks, i);

		if (nc->mode == NET_MODE_HOSTONLY && nc->ho.host_iface)
			return true;
		/* A TAP or macvtap made again after its bridge or NIC came back. */
		if (nc->mode == NET_MODE_BRIDGED && !nc->br.tap)
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

/* Everything is built: give up what the loop does not need. A reload
 * after this cannot regain what is gone (a new host-iface= needs
 * CAP_NET_ADMIN, a port below 1024 root): it fails with its message. */
static bool least_privilege(const struct options *o, bool net_admin, bool exec, GError **err)
{
	if (!privs_drop(o->user, o->group, net_admin, err))
		return false;
	if (o->seccomp && !seccomp_install(exec, err))
		return false;
	if (o->seccomp_selftest)
		seccomp_selftest();
	return true;
}

/* What SIGHUP needs: the command line again, the file read anew. */
struct reloader {
	struct options *o;
	struct run_settings *rs;
	struct daemon *d;
};

static void reload(void *opaque)
{
	struct reloader *r = opaque;
	g_autoptr(GError) err = NULL;
	struct vmnetd_config cfg;

	supervise_reloading(true);
	vmnetd_config_init(&cfg);
	if (!load_config(r->o, r->rs, false, &cfg, &err)) {
		g_warning("reload: %s; nothing changed", err->message);
	} else {
		share_flow_budget(&cfg);
		if (!daemon_reload(r->d, &cfg, &err))
			g_warning("reload: %s", err->message);
		else
			g_message("reload: done");
	}
	vmnetd_config_clear(&cfg);
	supervise_reloading(false);
}

static void on_exit_fd(void *opaque)
{
	g_message("--exit-fd closed: shutting down");
	loop_quit(opaque);
}

/* Networks, sockets and the control socket; then privileges go. */
static bool start(struct options *o, struct run_settings *rs, struct vmnetd_config *cfg,
		  struct loop *l, GArray *passed, struct daemon **d, GError **err)
{
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	struct daemon_settings ds = { .perms = rs->perms, .relay_exe = self ? self : "vmnetd",
				      .from_nat = !o->network && !o->config,
				      .api_path = o->api_socket, .socket_dir = rs->socket_dir };
	bool net_admin = needs_net_admin(cfg), exec = needs_exec(cfg);
	g_autofree char *qemu = qemu_args_text(cfg);

	*d = daemon_new(l, &ds, passed);
	if (!daemon_start(*d, cfg, err))
		return false;
	if (o->pid_file && !supervise_write_pid_file(o->pid_file, err))
		return false;
	if (!least_privilege(o, net_admin, exec, err))
		return false;
	fputs(qemu, stdout);
	fflush(stdout);
	return true;
}

/* Networks that had a default socket kept away at start (systemd's, --fd,
 * --netns): the same at every reload, so their settings read unchanged. */
static char **attached_names(const struct vmnetd_config *cfg, char **passed)
{
	GPtrArray *names = g_ptr_array_new();

	for (char **p = passed; p && *p; p++)
		g_ptr_array_add(names, g_strdup(*p));
	for (guint i = 0; i < cfg->networks->len; i++) {
		const struct net_config *nc = g_ptr_array_index(cfg->networks, i);

		if (nc->fds->len || nc->netns->len)
			g_ptr_array_add(names, g_strdup(nc->name));
	}
	g_ptr_array_add(names, NULL);
	return (char **)g_ptr_array_free(names, FALSE);
}

static char **passed_names(GArray *passed)
{
	GPtrArray *names = g_ptr_array_new();

	for (guint i = 0; i < passed->len; i++) {
		const char *n = g_array_index(passed, struct passed_socket, i).name;

		g_ptr_array_add(names, g_strdup(strcmp(n, "unknown") ? n : NET_DEFAULT_NAME));
	}
	g_ptr_array_add(names, NULL);
	return (char **)g_ptr_array_free(names, FALSE);
}

static int run(struct options *o)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GArray) passed = supervise_passed_sockets();
	struct run_settings rs = { .socket_dir = vmnetd_socket_dir(),
				   .passed_names = passed_names(passed) };
	struct vmnetd_config cfg;
	struct signals sg = { .fd = -1 };
	struct reloader rl = { .o = o, .rs = &rs };
	struct exit_watch *ew = NULL;
	struct daemon *d = NULL;
	struct loop *l = NULL;
	int status = EXIT_FAILURE;

	vmnetd_config_init(&cfg);
	if (!check_settings(o, &rs, &err) || !load_config(o, &rs, true, &cfg, &err)) {
		status = EXIT_BAD_OPTION;
		goto out;
	}
	if (!make_default_dirs(&cfg, o, &rs, &err))
		goto out;
	rs.attached = attached_names(&cfg, rs.passed_names);
	raise_fd_limit();
	share_flow_budget(&cfg);
	l = loop_new();
	if (!watch_signals(&sg, l, &err))
		goto out;
	if (o->exit_fd >= 0 && !(ew = supervise_watch_end(l, o->exit_fd, on_exit_fd, l, &err))) {
		g_prefix_error(&err, "--exit-fd %d: ", o->exit_fd);
		goto out;
	}
	if (!start(o, &rs, &cfg, l, passed, &d, &err))
		goto out;
	rl.d = d;
	if (o->config) {
		sg.reload = reload;
		sg.opaque = &rl;
	}
	supervise_ready(o->ready_fd);
	/* From here on guests can make the daemon log: no line more than a
	 * few times per interval. */
	ratelimit_install();
	loop_run(l);
	supervise_stopping();
	ratelimit_flush();
	ratelimit_uninstall();
	status = EXIT_SUCCESS;
out:
	if (err)
		g_printerr("vmnetd: %s\n", err->message);
	daemon_free(d);
	supervise_exit_watch_free(ew);
	if (sg.fd >= 0) {
		loop_watch_del(l, &sg.watch);
		close(sg.fd);
	}
	loop_free(l);
	if (o->pid_file && status == EXIT_SUCCESS)
		supervise_remove_pid_file(o->pid_file);
	vmnetd_config_clear(&cfg);
	g_free(rs.socket_dir);
	g_strfreev(rs.passed_names);
	g_strfreev(rs.attached);
	return status;
}

static void options_clear(struct options *o)
{
	g_strfreev(o->listen);
	g_strfreev(o->connect);
	g_strfreev(o->nat);
	g_strfreev(o->network);
	g_strfreev(o->fds);
	g_strfreev(o->netns);
	g_free(o->netns_type);
	g_free(o->userns);
	g_free(o->ifname);
	g_free(o->macaddress);
	g_free(o->config);
	g_free(o->socket_mode);
	g_free(o->socket_group);
	g_free(o->api_socket);
	g_free(o->pid_file);
	g_free(o->relay_target);
	g_free(o->relay_slots);
	g_free(o->user);
	g_free(o->group);
}

/* Run as slirp4netns: its arguments become ours (s4compat.h). */
static bool slirp4netns_args(int *argc, char ***argv, char ***owned, int *status)
{
	g_autoptr(GError) err = NULL;
	bool done;

	*owned = s4compat_translate(*argc, *argv, &done, &err);
	if (!*owned) {
		if (err)
			g_printerr("slirp4netns (vmnetd): %s\n", err->message);
		*status = err ? EXIT_BAD_OPTION : EXIT_SUCCESS;
		return false;
	}
	*argc = (int)g_strv_length(*owned);
	*argv = *owned;
	return true;
}

int main(int argc, char **argv)
{
	struct options o = { .ready_fd = -1, .exit_fd = -1 };
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) s4_argv = NULL;
	g_autofree char **s4_view = NULL;
	int status;

	setlocale(LC_ALL, "");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (s4compat_wanted(argc, argv)) {
		if (!slirp4netns_args(&argc, &argv, &s4_argv, &status))
			return status;
		/* GOption rearranges the array it parses: give it a copy of the
		 * pointers, so the strings are freed from s4_argv. */
		s4_view = g_memdup2(s4_argv, (argc + 1) * sizeof(char *));
		argv = s4_view;
	}
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

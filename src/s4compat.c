/* s4compat.c - slirp4netns's command line as a drop-in.
 *
 * The arguments are parsed as slirp4netns parses them and rewritten into
 * vmnetd's own: one NAT network with slirp4netns's defaults (MTU 1500,
 * 10.0.2.0/24, the namespace at .100, IPv6 only with -6, on fd00::/64), a
 * --netns port, and no sockets the caller did not ask for. What vmnetd
 * cannot do is refused by name, never ignored.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "vmnetd/error.h"
#include "vmnetd/netopts.h"
#include "vmnetd/s4compat.h"

struct s4_options {
	gboolean configure, ipv6, disable_host_loopback, sandbox, seccomp, disable_dns;
	gboolean help, version;
	int exit_fd, ready_fd, mtu;
	char *api_socket, *cidr, *netns_type, *userns_path, *outbound, *outbound6;
	char *macaddress, *target_type;
};

bool s4compat_wanted(int argc, char **argv)
{
	g_autofree char *base = argc > 0 ? g_path_get_basename(argv[0]) : NULL;

	return (base && !strcmp(base, "slirp4netns")) ||
	       (argc > 1 && !strcmp(argv[1], "slirp4netns"));
}

static void options_clear(struct s4_options *o)
{
	g_free(o->api_socket);
	g_free(o->cidr);
	g_free(o->netns_type);
	g_free(o->userns_path);
	g_free(o->outbound);
	g_free(o->outbound6);
	g_free(o->macaddress);
	g_free(o->target_type);
}

static bool parse(char ***argv, struct s4_options *o, GError **err)
{
	GOptionEntry entries[] = {
		{ "configure", 'c', 0, G_OPTION_ARG_NONE, &o->configure, "", NULL },
		{ "exit-fd", 'e', 0, G_OPTION_ARG_INT, &o->exit_fd, "", NULL },
		{ "ready-fd", 'r', 0, G_OPTION_ARG_INT, &o->ready_fd, "", NULL },
		{ "mtu", 'm', 0, G_OPTION_ARG_INT, &o->mtu, "", NULL },
		{ "enable-ipv6", '6', 0, G_OPTION_ARG_NONE, &o->ipv6, "", NULL },
		{ "api-socket", 'a', 0, G_OPTION_ARG_FILENAME, &o->api_socket, "", NULL },
		{ "cidr", 0, 0, G_OPTION_ARG_STRING, &o->cidr, "", NULL },
		{ "disable-host-loopback", 0, 0, G_OPTION_ARG_NONE, &o->disable_host_loopback, "",
		  NULL },
		{ "netns-type", 0, 0, G_OPTION_ARG_STRING, &o->netns_type, "", NULL },
		{ "userns-path", 0, 0, G_OPTION_ARG_FILENAME, &o->userns_path, "", NULL },
		{ "enable-sandbox", 0, 0, G_OPTION_ARG_NONE, &o->sandbox, "", NULL },
		{ "enable-seccomp", 0, 0, G_OPTION_ARG_NONE, &o->seccomp, "", NULL },
		{ "outbound-addr", 0, 0, G_OPTION_ARG_STRING, &o->outbound, "", NULL },
		{ "outbound-addr6", 0, 0, G_OPTION_ARG_STRING, &o->outbound6, "", NULL },
		{ "disable-dns", 0, 0, G_OPTION_ARG_NONE, &o->disable_dns, "", NULL },
		{ "macaddress", 0, 0, G_OPTION_ARG_STRING, &o->macaddress, "", NULL },
		{ "target-type", 0, 0, G_OPTION_ARG_STRING, &o->target_type, "", NULL },
		{ "help", 'h', 0, G_OPTION_ARG_NONE, &o->help, "", NULL },
		{ "version", 'v', 0, G_OPTION_ARG_NONE, &o->version, "", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);

	g_option_context_set_help_enabled(ctx, FALSE);
	g_option_context_add_main_entries(ctx, entries, NULL);
	return g_option_context_parse_strv(ctx, argv, err);
}

static void print_help(void)
{
	printf("Usage: slirp4netns [OPTION]... PID|PATH [TAPNAME]\n"
	       "User-mode networking for unprivileged network namespaces (vmnetd %s in\n"
	       "slirp4netns's place: the same options; see vmnetd(8)).\n\n"
	       "-c, --configure          bring up the interface\n"
	       "-e, --exit-fd=FD         specify the FD for terminating\n"
	       "-r, --ready-fd=FD        specify the FD to write to when the network is configured\n"
	       "-m, --mtu=MTU            specify MTU (default=1500, max=65521)\n"
	       "-6, --enable-ipv6        enable IPv6\n"
	       "-a, --api-socket=PATH    specify API socket path\n"
	       "--cidr=CIDR              specify network address CIDR (default=10.0.2.0/24)\n"
	       "--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host namespace\n"
	       "--netns-type=TYPE        specify network namespace type ([path|pid], default=pid)\n"
	       "--userns-path=PATH       specify user namespace path\n"
	       "--enable-seccomp         limit the system calls (vmnetd --seccomp)\n"
	       "--outbound-addr=IPv4     sets outbound ipv4 address (or interface) to bind to\n"
	       "--outbound-addr6=IPv6    sets outbound ipv6 address (or interface) to bind to\n"
	       "--disable-dns            disables the DNS forwarder at 10.0.2.3\n"
	       "--macaddress=MAC         specify the MAC address of the TAP (only valid with -c)\n"
	       "-h, --help               show this help and exit\n"
	       "-v, --version            show version and exit\n"
	       "Not here: slirp4netns's mount-namespace sandbox, and the bess target.\n",
	       VMNETD_VERSION);
}

/* What vmnetd cannot honour, named; NULL when all is well. */
static const char *unsupported(const struct s4_options *o)
{
	if (o->sandbox)
		return "--enable-sandbox is not supported by vmnetd (its mount-namespace sandbox); "
		       "use --enable-seccomp, and run vmnetd as an unprivileged user";
	if (o->target_type && strcmp(o->target_type, "netns"))
		return "--target-type: vmnetd serves only netns targets here (for other peers, "
		       "run vmnetd itself: --listen)";
	if (o->macaddress && !o->configure)
		return "--macaddress is only valid with -c (--configure)";
	return NULL;
}

/* The NAT network, as slirp4netns sets libslirp up. */
static char *network_spec(const struct s4_options *o, GError **err)
{
	const char *cidr = o->cidr ? o->cidr : S4_CIDR_DEFAULT;
	struct in_addr net, mask, start;
	char buf[INET_ADDRSTRLEN];
	GString *s;

	if (!netopt_parse_net("--cidr", cidr, &net, &mask, err))
		return NULL;
	/* The namespace's address (.100) is also the default forward target,
	 * as slirp4netns's add_hostfwd has it. */
	start.s_addr = htonl(ntohl(net.s_addr) + 100);
	s = g_string_new(NULL);
	g_string_append_printf(s, "default,mode=nat,net=%s,dhcpstart=%s,mtu=%d,ipv6=%s", cidr,
			       inet_ntop(AF_INET, &start, buf, sizeof(buf)),
			       o->mtu ? o->mtu : S4_MTU_DEFAULT, o->ipv6 ? "on" : "off");
	if (o->ipv6)
		g_string_append(s, ",ipv6-net=" S4_IPV6_NET);
	if (o->disable_host_loopback)
		g_string_append(s, ",host-loopback=off");
	if (o->disable_dns)
		g_string_append(s, ",dns-forward=off");
	if (o->outbound)
		g_string_append_printf(s, ",outbound-addr=%s", o->outbound);
	if (o->outbound6)
		g_string_append_printf(s, ",outbound-addr6=%s", o->outbound6);
	return g_string_free(s, FALSE);
}

static void add(GPtrArray *out, const char *opt, const char *val)
{
	g_ptr_array_add(out, g_strdup(opt));
	if (val)
		g_ptr_array_add(out, g_strdup(val));
}

static void add_fd(GPtrArray *out, const char *opt, int fd)
{
	g_autofree char *n = g_strdup_printf("%d", fd);

	if (fd >= 0)
		add(out, opt, n);
}

static char **vmnetd_argv(const char *argv0, const struct s4_options *o, const char *target,
			  const char *tap, const char *spec)
{
	GPtrArray *out = g_ptr_array_new();

	add(out, argv0, NULL);
	add(out, "--network", spec);
	add(out, "--netns", target);
	add(out, "--netns-type", o->netns_type ? o->netns_type : "pid");
	if (o->userns_path)
		add(out, "--userns", o->userns_path);
	add(out, "--ifname", tap);
	if (o->configure)
		add(out, "--configure", NULL);
	if (o->macaddress)
		add(out, "--macaddress", o->macaddress);
	add(out, "--exit-with-netns", NULL);
	/* slirp4netns makes no socket unless asked. */
	add(out, "--api-socket", o->api_socket ? o->api_socket : "none");
	add_fd(out, "--exit-fd", o->exit_fd);
	add_fd(out, "--ready-fd", o->ready_fd);
	if (o->seccomp)
		add(out, "--seccomp", NULL);
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

/* PID|PATH [TAPNAME] after the options. */
static bool positional(int argc, char **argv, const char **target, const char **tap,
		       GError **err)
{
	if (argc < 2 || argc > 3) {
		vmnetd_set_error(err, "expected PID|PATH [TAPNAME]");
		return false;
	}
	*target = argv[1];
	*tap = argc == 3 ? argv[2] : "tap0";
	return true;
}

char **s4compat_translate(int argc, char **argv, bool *done, GError **err)
{
	struct s4_options o = { .exit_fd = -1, .ready_fd = -1 };
	g_autofree char *spec = NULL;
	const char *target, *tap, *why;
	char **out = NULL;
	int skip = argc > 1 && !strcmp(argv[1], "slirp4netns");
	g_auto(GStrv) args = g_strdupv(argv + skip);

	*done = false;
	g_free(args[0]);
	args[0] = g_strdup(argv[0]);
	if (!parse(&args, &o, err))
		goto out;
	if (o.help || o.version) {
		if (o.help)
			print_help();
		else
			printf("slirp4netns version 1.2.0 (vmnetd %s in its place)\n",
			       VMNETD_VERSION);
		*done = true;
		goto out;
	}
	if ((why = unsupported(&o))) {
		vmnetd_set_error(err, "%s", why);
		goto out;
	}
	if (positional(g_strv_length(args), args, &target, &tap, err) &&
	    (spec = network_spec(&o, err)))
		out = vmnetd_argv(argv[0], &o, target, tap, spec);
out:
	options_clear(&o);
	return out;
}

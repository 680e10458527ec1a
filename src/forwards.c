/* forwards.c - a network's port forwards, numbered and changed at run time.
 *
 * libslirp keeps the listening sockets; this table keeps what each one is
 * for, so the control API can list and remove them by number. Every forward
 * goes through slirp_add_hostxfwd(), so IPv4 and IPv6 take one path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "vmnetd/error.h"
#include "vmnetd/forwards.h"

struct forwards {
	Slirp *slirp;
	struct in_addr default_guest;
	char *what;
	GArray *entries;	/* struct fwd_entry, in id order */
};

/* One count for the whole daemon: an id is never given twice while it
 * runs, not even by a network built again on reload. */
static unsigned next_id = 1;

static void entry_clear(void *p)
{
	g_free(((struct fwd_entry *)p)->config_spec);
}

struct forwards *forwards_new(Slirp *slirp, struct in_addr default_guest, const char *what)
{
	struct forwards *f = g_new0(struct forwards, 1);

	f->slirp = slirp;
	f->default_guest = default_guest;
	f->what = g_strdup(what);
	f->entries = g_array_new(FALSE, TRUE, sizeof(struct fwd_entry));
	g_array_set_clear_func(f->entries, entry_clear);
	return f;
}

void forwards_free(struct forwards *f)
{
	if (!f)
		return;
	g_array_free(f->entries, TRUE);
	g_free(f->what);
	g_free(f);
}

unsigned forwards_next_id(void)
{
	return next_id;
}

struct in_addr forwards_default_guest(const struct forwards *f)
{
	return f->default_guest;
}

static socklen_t addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

static int slirp_flags(const struct fwd_rule *r)
{
	/* "::" would otherwise take IPv4 too, and clash with a 0.0.0.0 forward. */
	return (r->udp ? SLIRP_HOSTFWD_UDP : 0) |
	       (r->host.ss_family == AF_INET6 ? SLIRP_HOSTFWD_V6ONLY : 0);
}

static char *rule_string(const struct fwd_rule *r)
{
	char h[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];

	return g_strdup_printf("%s %s port %u to guest %s port %u", r->udp ? "udp" : "tcp",
			       endpoint_host_string(&r->host, h), endpoint_port(&r->host),
			       endpoint_host_string(&r->guest, g), endpoint_port(&r->guest));
}

/* @label names the forward in messages: "hostfwd=SPEC" or "forward 3". */
static bool listen_for(struct forwards *f, const struct fwd_rule *r, const char *label,
		       GError **err)
{
	g_autofree char *desc = rule_string(r);
	char h[INET6_ADDRSTRLEN];

	if (slirp_add_hostxfwd(f->slirp, (const struct sockaddr *)&r->host, addr_len(&r->host),
			       (const struct sockaddr *)&r->guest, addr_len(&r->guest),
			       slirp_flags(r)) < 0) {
		int e = errno;

		vmnetd_set_error(err, "%s %s: cannot listen on host %s port %u (%s): %s%s",
				 f->what, label, endpoint_host_string(&r->host, h),
				 endpoint_port(&r->host), r->udp ? "udp" : "tcp", g_strerror(e),
				 e == EACCES ? " (ports below 1024 need CAP_NET_BIND_SERVICE)" : "");
		return false;
	}
	g_message("%s %s: forwarding host %s", f->what, label, desc);
	/* A guest service then answers every machine that can reach this one. */
	if (is_wildcard(&r->host))
		g_warning("%s %s: listening on all addresses: reachable from other machines",
			  f->what, label);
	return true;
}

static struct fwd_entry *append(struct forwards *f, const struct fwd_rule *r, const char *spec)
{
	struct fwd_entry e = { .id = next_id++, .rule = *r, .config_spec = g_strdup(spec) };

	g_array_append_val(f->entries, e);
	return &g_array_index(f->entries, struct fwd_entry, f->entries->len - 1);
}

bool forwards_add(struct forwards *f, const struct fwd_rule *r, unsigned *id, GError **err)
{
	g_autofree char *label = g_strdup_printf("forward %u", next_id);
	struct fwd_entry *e;

	if (!listen_for(f, r, label, err))
		return false;
	e = append(f, r, NULL);
	if (id)
		*id = e->id;
	return true;
}

static void rule_from_hostfwd(struct fwd_rule *r, const struct hostfwd *h)
{
	struct sockaddr_in *host = (struct sockaddr_in *)&r->host;
	struct sockaddr_in *guest = (struct sockaddr_in *)&r->guest;

	memset(r, 0, sizeof(*r));
	r->udp = h->udp;
	host->sin_family = AF_INET;
	host->sin_addr = h->host_addr;
	host->sin_port = htons(h->host_port);
	guest->sin_family = AF_INET;
	guest->sin_addr = h->guest_addr;
	guest->sin_port = htons(h->guest_port);
}

static bool add_config_one(struct forwards *f, const struct hostfwd *h, GError **err)
{
	g_autofree char *label = g_strdup_printf("hostfwd=%s", h->spec);
	struct fwd_rule r;

	rule_from_hostfwd(&r, h);
	if (!listen_for(f, &r, label, err))
		return false;
	append(f, &r, h->spec);
	return true;
}

bool forwards_add_config(struct forwards *f, const GArray *hostfwds, GError **err)
{
	for (guint i = 0; hostfwds && i < hostfwds->len; i++)
		if (!add_config_one(f, &g_array_index(hostfwds, struct hostfwd, i), err))
			return false;
	return true;
}

static guint index_of(const struct forwards *f, unsigned id)
{
	for (guint i = 0; i < f->entries->len; i++)
		if (g_array_index(f->entries, struct fwd_entry, i).id == id)
			return i;
	return G_MAXUINT;
}

bool forwards_remove(struct forwards *f, unsigned id, GError **err)
{
	guint i = index_of(f, id);
	struct fwd_entry *e;
	g_autofree char *desc = NULL;

	if (i == G_MAXUINT) {
		vmnetd_set_error(err, "no forward %u", id);
		return false;
	}
	e = &g_array_index(f->entries, struct fwd_entry, i);
	desc = rule_string(&e->rule);
	/* Connections already made through it stay up, as in QEMU's hostfwd_remove. */
	slirp_remove_hostxfwd(f->slirp, (const struct sockaddr *)&e->rule.host,
			      addr_len(&e->rule.host), slirp_flags(&e->rule));
	g_message("%s forward %u: stopped forwarding host %s", f->what, id, desc);
	g_array_remove_index(f->entries, i);
	return true;
}

const struct fwd_entry *forwards_find_config(struct forwards *f, const char *spec)
{
	for (guint i = 0; i < f->entries->len; i++) {
		const struct fwd_entry *e = &g_array_index(f->entries, struct fwd_entry, i);

		if (e->config_spec && !strcmp(e->config_spec, spec))
			return e;
	}
	return NULL;
}

static bool in_config(const GArray *hostfwds, const char *spec)
{
	for (guint i = 0; hostfwds && i < hostfwds->len; i++)
		if (!strcmp(g_array_index(hostfwds, struct hostfwd, i).spec, spec))
			return true;
	return false;
}

bool forwards_sync_config(struct forwards *f, const GArray *hostfwds, GError **err)
{
	for (guint i = f->entries->len; i-- > 0;) {
		const struct fwd_entry *e = &g_array_index(f->entries, struct fwd_entry, i);

		if (e->config_spec && !in_config(hostfwds, e->config_spec))
			forwards_remove(f, e->id, NULL);
	}
	for (guint i = 0; hostfwds && i < hostfwds->len; i++) {
		const struct hostfwd *h = &g_array_index(hostfwds, struct hostfwd, i);

		if (!forwards_find_config(f, h->spec) && !add_config_one(f, h, err))
			return false;
	}
	return true;
}

void forwards_foreach(struct forwards *f, void (*fn)(const struct fwd_entry *e, void *opaque),
		      void *opaque)
{
	for (guint i = 0; i < f->entries->len; i++)
		fn(&g_array_index(f->entries, struct fwd_entry, i), opaque);
}

/* @text into @ss with @port; family AF_UNSPEC takes either. */
static bool parse_addr(const char *text, int family, uint16_t port,
		       struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family != AF_INET6 && inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return true;
	}
	if (family != AF_INET && inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		return true;
	}
	return false;
}

/* "tcp", "udp6"...: whether UDP, and the host family it asks for. */
static bool parse_proto(const char *proto, bool *udp, int *family)
{
	static const struct { const char *name; bool udp; int family; } protos[] = {
		{ "tcp", false, AF_UNSPEC }, { "udp", true, AF_UNSPEC },
		{ "tcp4", false, AF_INET }, { "udp4", true, AF_INET },
		{ "tcp6", false, AF_INET6 }, { "udp6", true, AF_INET6 },
	};

	for (size_t i = 0; proto && i < G_N_ELEMENTS(protos); i++) {
		if (!strcmp(proto, protos[i].name)) {
			*udp = protos[i].udp;
			*family = protos[i].family;
			return true;
		}
	}
	return false;
}

static bool check_port(const char *field, gint64 port, GError **err)
{
	if (port >= 1 && port <= 65535)
		return true;
	vmnetd_set_error(err, "%s must be 1 to 65535", field);
	return false;
}

bool fwd_rule_parse(struct fwd_rule *r, const char *proto, const char *host_addr,
		    gint64 host_port, const char *guest_addr, gint64 guest_port,
		    struct in_addr default_guest, GError **err)
{
	int family;
	char g[INET_ADDRSTRLEN];

	if (!parse_proto(proto, &r->udp, &family)) {
		vmnetd_set_error(err, "proto must be tcp or udp (or tcp4, udp4, tcp6, udp6)");
		return false;
	}
	if (!check_port("host_port", host_port, err) || !check_port("guest_port", guest_port, err))
		return false;
	if (!host_addr)
		host_addr = family == AF_INET6 ? "::" : "0.0.0.0";
	if (!parse_addr(host_addr, family, host_port, &r->host)) {
		vmnetd_set_error(err, "host_addr '%s' is not an %s address", host_addr,
				 family == AF_INET6 ? "IPv6" : family == AF_INET ? "IPv4" : "IP");
		return false;
	}
	if (!guest_addr && r->host.ss_family == AF_INET6) {
		vmnetd_set_error(err, "an IPv6 forward needs guest_addr, the guest's IPv6 address");
		return false;
	}
	if (!guest_addr)
		guest_addr = inet_ntop(AF_INET, &default_guest, g, sizeof(g));
	if (!parse_addr(guest_addr, r->host.ss_family, guest_port, &r->guest)) {
		/* libslirp 4.7 closes IPv6-to-IPv4 connections at once and
		 * aborts on IPv4-to-IPv6 ones (soassign_guest_addr_if_needed). */
		vmnetd_set_error(err, "guest_addr '%s' is not an %s address: host and guest sides "
				 "of a forward are of one family", guest_addr,
				 r->host.ss_family == AF_INET6 ? "IPv6" : "IPv4");
		return false;
	}
	return true;
}

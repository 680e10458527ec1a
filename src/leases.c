/* leases.c - a network's lease table: an array kept in address order.
 *
 * A network holds at most a few hundred leases (one /24 pool and its static
 * hosts), so a sorted array beats hash tables here: foreach is already in
 * address order, lookups by address bisect, and lookups by MAC or name
 * scan a few kilobytes.
 */
#include <arpa/inet.h>
#include <string.h>

#include "vmnetd/leases.h"

struct lease_table {
	GArray *leases;		/* struct lease, ascending by address */
};

static bool lease_is_live(const struct lease *l, int64_t now)
{
	return l->is_static || l->expires > now;
}

struct lease_table *lease_table_new(void)
{
	struct lease_table *t = g_new0(struct lease_table, 1);

	t->leases = g_array_new(FALSE, FALSE, sizeof(struct lease));
	return t;
}

void lease_table_free(struct lease_table *t)
{
	if (!t)
		return;
	g_array_free(t->leases, TRUE);
	g_free(t);
}

static struct lease *lease_at(const struct lease_table *t, guint i)
{
	return &g_array_index(t->leases, struct lease, i);
}

/* Index of the first lease whose address is not below @ip (host order compare). */
static guint lower_bound(const struct lease_table *t, struct in_addr ip)
{
	uint32_t key = ntohl(ip.s_addr);
	guint lo = 0, hi = t->leases->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (ntohl(lease_at(t, mid)->ip.s_addr) < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void lease_table_set(struct lease_table *t, const struct lease *l)
{
	struct lease copy = *l;

	/* Forced to end in NUL, so no caller can hand out an unterminated name. */
	copy.hostname[LEASE_HOSTNAME_MAX] = '\0';
	for (guint i = t->leases->len; i-- > 0;) {
		const struct lease *old = lease_at(t, i);

		if (memcmp(old->mac, l->mac, 6) == 0 || old->ip.s_addr == l->ip.s_addr)
			g_array_remove_index(t->leases, i);
	}
	g_array_insert_val(t->leases, lower_bound(t, l->ip), copy);
}

void lease_table_remove_mac(struct lease_table *t, const uint8_t mac[6])
{
	for (guint i = t->leases->len; i-- > 0;) {
		const struct lease *l = lease_at(t, i);

		if (!l->is_static && memcmp(l->mac, mac, 6) == 0)
			g_array_remove_index(t->leases, i);
	}
}

void lease_table_expire(struct lease_table *t, int64_t now)
{
	for (guint i = t->leases->len; i-- > 0;)
		if (!lease_is_live(lease_at(t, i), now))
			g_array_remove_index(t->leases, i);
}

const struct lease *lease_table_by_mac(const struct lease_table *t, const uint8_t mac[6], int64_t now)
{
	for (guint i = 0; i < t->leases->len; i++) {
		const struct lease *l = lease_at(t, i);

		if (memcmp(l->mac, mac, 6) == 0 && lease_is_live(l, now))
			return l;
	}
	return NULL;
}

const struct lease *lease_table_by_ip(const struct lease_table *t, struct in_addr ip, int64_t now)
{
	guint i = lower_bound(t, ip);
	const struct lease *l;

	if (i == t->leases->len)
		return NULL;
	l = lease_at(t, i);
	return l->ip.s_addr == ip.s_addr && lease_is_live(l, now) ? l : NULL;
}

static bool names(const struct lease *l, const char *name, int64_t now)
{
	return g_ascii_strcasecmp(l->hostname, name) == 0 && lease_is_live(l, now);
}

const struct lease *lease_table_by_name(const struct lease_table *t, const char *name, int64_t now)
{
	const struct lease *found = NULL;

	if (!name || !*name)		/* "" means unknown: it names nobody */
		return NULL;
	/* A static name is the administrator's: no VM's lease may shadow it,
	 * even one recorded before the rule that keeps names unique existed. */
	for (guint i = 0; i < t->leases->len; i++) {
		const struct lease *l = lease_at(t, i);

		if (!names(l, name, now))
			continue;
		if (l->is_static)
			return l;
		if (!found)
			found = l;
	}
	return found;
}

bool lease_table_name_taken(const struct lease_table *t, const char *name, const uint8_t mac[6], int64_t now)
{
	if (!name || !*name)
		return false;
	for (guint i = 0; i < t->leases->len; i++) {
		const struct lease *l = lease_at(t, i);

		if (names(l, name, now) && memcmp(l->mac, mac, 6) != 0)
			return true;
	}
	return false;
}

void lease_table_foreach(const struct lease_table *t, void (*fn)(const struct lease *l, void *opaque),
			 void *opaque)
{
	for (guint i = 0; i < t->leases->len; i++)
		fn(lease_at(t, i), opaque);
}

unsigned lease_table_size(const struct lease_table *t)
{
	return t->leases->len;
}

char *lease_where(const struct lease *l)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &l->ip, a, sizeof(a));
	if (!l->hostname[0])
		return g_strdup(a);
	return g_strdup_printf("%s (%s)", a, l->hostname);
}

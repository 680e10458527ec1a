/* leases.h - a network's lease table: which VM (MAC) holds which IPv4 address,
 * under which host name, until when. Host-only networks fill it from their
 * own DHCP server; NAT networks from the DHCP replies that cross the switch. */
#ifndef VMNETD_LEASES_H
#define VMNETD_LEASES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#define LEASE_HOSTNAME_MAX 63		/* one DNS label */

struct lease {
	uint8_t mac[6];
	struct in_addr ip;
	char hostname[LEASE_HOSTNAME_MAX + 1];	/* "" when unknown */
	int64_t expires;		/* wall-clock seconds (time()); INT64_MAX: never */
	bool is_static;			/* configured, never expires, never given to another MAC */
	bool offered;			/* offered, not yet acknowledged (DHCP server only) */
};

struct lease_table;

/* An empty table. */
struct lease_table *lease_table_new(void);
void lease_table_free(struct lease_table *t);

/* Records @l, replacing any lease held by the same MAC or on the same address. */
void lease_table_set(struct lease_table *t, const struct lease *l);
/* Forgets the lease of @mac, if any. Static leases stay. */
void lease_table_remove_mac(struct lease_table *t, const uint8_t mac[6]);
/* Drops dynamic leases whose expiry is at or before @now. */
void lease_table_expire(struct lease_table *t, int64_t now);

/* Lookups return a pointer valid until the table next changes, or NULL.
 * Expired leases are not returned (@now in wall-clock seconds). */
const struct lease *lease_table_by_mac(const struct lease_table *t, const uint8_t mac[6], int64_t now);
const struct lease *lease_table_by_ip(const struct lease_table *t, struct in_addr ip, int64_t now);
/* Host names compare case-insensitively, as DNS does; a static lease
 * holding @name wins over dynamic ones, whatever their addresses. */
const struct lease *lease_table_by_name(const struct lease_table *t, const char *name, int64_t now);
/* True when a live lease of a MAC other than @mac holds @name (compared as
 * above; static leases are always live); false for "" and NULL. */
bool lease_table_name_taken(const struct lease_table *t, const char *name, const uint8_t mac[6], int64_t now);

/* "10.0.2.15 (web)", or "10.0.2.15" with no host name; to free. */
char *lease_where(const struct lease *l);

/* Calls @fn for every lease, in address order. */
void lease_table_foreach(const struct lease_table *t, void (*fn)(const struct lease *l, void *opaque),
			 void *opaque);
unsigned lease_table_size(const struct lease_table *t);

#endif

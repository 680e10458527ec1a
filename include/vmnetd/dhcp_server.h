/* dhcp_server.h - vmnetd's own DHCP server (RFC 2131/2132) for one network.
 *
 * It works on BOOTP messages (UDP payloads); the caller takes them out of
 * frames and puts the replies back into frames. Leases live in a lease table
 * (leases.h) that the network shares with its DNS names, and optionally in a
 * state file so that a restarted daemon gives each VM its address back.
 */
#ifndef VMNETD_DHCP_SERVER_H
#define VMNETD_DHCP_SERVER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "vmnetd/leases.h"

#define DHCP_SERVER_PORT	67
#define DHCP_CLIENT_PORT	68
/* A reply never exceeds this: 236-byte header, cookie, and a 312+ byte options area (RFC 2131's minimum 576-byte message). */
#define DHCP_REPLY_MAX		1024

struct dhcp_static_lease {
	uint8_t mac[6];
	struct in_addr ip;
	char *hostname;			/* may be NULL */
};

struct dhcp_server_config {
	struct in_addr server_id;	/* our address: server identifier (option 54) */
	struct in_addr netmask;		/* option 1 */
	struct in_addr pool_start;	/* first dynamic address, inclusive */
	struct in_addr pool_end;	/* last dynamic address, inclusive */
	struct in_addr router;		/* option 3; INADDR_ANY: none */
	struct in_addr dns;		/* option 6; INADDR_ANY: none */
	uint32_t lease_time_s;		/* option 51 */
	uint16_t mtu;			/* option 26; 0: none */
	const char *domain;		/* option 15; NULL: none */
	const char *const *search;	/* option 119, NULL-terminated; NULL: none */
	const char *client_hostname;	/* option 12 for clients with no static name (QEMU's hostname=) */
	const char *bootfile;		/* BOOTP file, with siaddr = server_id; NULL: none */
	const struct dhcp_static_lease *statics;
	size_t n_statics;
	/* Never handed out, offered, acknowledged nor taken back from the state
	 * file: addresses the network's own services use even when no option
	 * names them (libslirp answers on its DNS and guestfwd addresses). A
	 * static lease on one of them is dropped. */
	const struct in_addr *reserved;
	size_t n_reserved;
	const char *state_file;		/* NULL: leases only in memory */
	const char *name;		/* the network, for the log; NULL: none */
};

/* Where a reply goes (RFC 2131 4.1): to the client's address, or broadcast. */
struct dhcp_reply {
	uint8_t msg[DHCP_REPLY_MAX];
	size_t len;
	struct in_addr dst_ip;		/* INADDR_BROADCAST for broadcast */
	uint8_t dst_mac[6];		/* ff:ff:ff:ff:ff:ff for broadcast, else chaddr */
};

struct dhcp_server;

/* Copies what it needs of @cfg; fills @leases with the static leases and
 * those of the state file, each its MAC's until the later of its recorded
 * expiry and one lease time from @now (renewals are not written, so a
 * recorded expiry may long have passed for a VM that is still up). Fails
 * (with a message) only when the state file exists and cannot be read. */
struct dhcp_server *dhcp_server_new(const struct dhcp_server_config *cfg,
				    struct lease_table *leases, int64_t now, GError **err);
void dhcp_server_free(struct dhcp_server *s);

/* Handles one client message (@msg: the UDP payload sent to port 67).
 * Returns true and fills @reply when an answer is due (OFFER, ACK, NAK);
 * false for RELEASE, DECLINE, anything malformed or not for us.
 * @now is wall-clock seconds. Writes the state file only when the set of
 * acknowledged leases changes (a MAC, address or host name comes or goes),
 * never for a plain renewal, so no client can make the loop wait on disk. */
bool dhcp_server_input(struct dhcp_server *s, const uint8_t *msg, size_t len, int64_t now,
		       struct dhcp_reply *reply);

/* Snooping for NAT networks, whose DHCP server is libslirp's: they learn
 * leases from the DHCP messages that cross the switch. */

/* When @frame (Ethernet, IPv4, UDP 67 -> 68) carries a DHCPACK with an
 * address, fills @out: chaddr, yiaddr, expiry (@now + option 51; INT64_MAX
 * when absent or infinite) and host name (option 12 as one DNS label, else ""). */
bool dhcp_snoop_ack(const uint8_t *frame, size_t len, int64_t now, struct lease *out);
/* When @frame (UDP 68 -> 67) carries a DHCPDISCOVER or DHCPREQUEST, fills
 * @mac with its chaddr and @hostname (@size bytes) with option 12 as one
 * DNS label, "" when absent. */
bool dhcp_snoop_request(const uint8_t *frame, size_t len, uint8_t mac[6], char *hostname, size_t size);

#endif

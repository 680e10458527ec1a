/* mac.h - Ethernet addresses: one way to print, parse, classify and key them. */
#ifndef VMNETD_MAC_H
#define VMNETD_MAC_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#define MAC_FMT "%02x:%02x:%02x:%02x:%02x:%02x"
#define MAC_ARGS(m) (m)[0], (m)[1], (m)[2], (m)[3], (m)[4], (m)[5]

/* Broadcast or multicast: never a station's own address. */
static inline bool mac_is_group(const uint8_t mac[6])
{
	return mac[0] & 1;
}

static inline bool mac_is_zero(const uint8_t mac[6])
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* The MAC as an integer, for hash tables keyed by gint64. */
static inline gint64 mac_key(const uint8_t mac[6])
{
	gint64 k = 0;

	for (int i = 0; i < 6; i++)
		k = (k << 8) | mac[i];
	return k;
}

/* Parses "aa:bb:cc:dd:ee:ff", as ip(8) prints them; false for anything else. */
bool mac_parse(const char *s, uint8_t mac[6]);
/* A random unicast, locally administered MAC, as the kernel gives a new TAP. */
void mac_random_local(uint8_t mac[6]);

#endif

/* mac.h - Ethernet addresses: one way to print them, one way to key them. */
#ifndef VMNETD_MAC_H
#define VMNETD_MAC_H

#include <stdint.h>

#include <glib.h>

#define MAC_FMT "%02x:%02x:%02x:%02x:%02x:%02x"
#define MAC_ARGS(m) (m)[0], (m)[1], (m)[2], (m)[3], (m)[4], (m)[5]

/* The MAC as an integer, for hash tables keyed by gint64. */
static inline gint64 mac_key(const uint8_t mac[6])
{
	gint64 k = 0;

	for (int i = 0; i < 6; i++)
		k = (k << 8) | mac[i];
	return k;
}

#endif

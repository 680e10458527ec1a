/* mac.c - parsing Ethernet addresses as users write them. */
#include "vmnetd/mac.h"

bool mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]) || p[2] != (i < 5 ? ':' : '\0'))
			return false;
		mac[i] = g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]);
	}
	return true;
}

void mac_random_local(uint8_t mac[6])
{
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)g_random_int_range(0, 256);
	mac[0] = (mac[0] & 0xfe) | 0x02;	/* unicast, locally administered */
}

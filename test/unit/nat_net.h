/* nat_net.h - the settings of a NAT network for unit tests that build one:
 * QEMU's defaults (10.0.2.0/24, MTU 65520), shaped by --nat style @opts. */
#ifndef VMNETD_TEST_NAT_NET_H
#define VMNETD_TEST_NAT_NET_H

#include <string.h>

#include <glib.h>

#include "vmnetd/netconf.h"

/* Fills @nc for network @name; free with nat_config_clear(&nc->nat). */
static inline void test_nat_net(struct net_config *nc, const char *name, const char *opts)
{
	memset(nc, 0, sizeof(*nc));
	nc->name = (char *)name;
	nc->mode = NET_MODE_NAT;
	nc->mtu = NAT_MTU_DEFAULT;
	nat_config_init(&nc->nat);
	if (opts)
		g_assert_true(nat_config_parse(&nc->nat, "--nat", opts, NULL));
	g_assert_true(nat_config_finish(&nc->nat, "--nat", NULL));
}

#endif

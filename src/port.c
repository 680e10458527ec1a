/* port.c - state shared by every kind of switch port. */
#include <glib.h>

#include "vmnetd/port.h"

void port_init(struct port *p, const struct port_ops *ops, char *name)
{
	*p = (struct port){ .ops = ops, .name = name };
}

void port_fini(struct port *p)
{
	g_free(p->name);
	p->name = NULL;
}

bool port_is_congested(const struct port *p, int64_t now_ns)
{
	return p->backlog > p->backlog_high &&
	       now_ns - p->last_progress_ns < PORT_STALL_NS;
}

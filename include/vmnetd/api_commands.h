/* api_commands.h - what the control API's requests do (doc/api.md): parse a
 * JSON request, act on the daemon's networks, build the JSON reply. */
#ifndef VMNETD_API_COMMANDS_H
#define VMNETD_API_COMMANDS_H

#include <glib.h>

#include "vmnetd/api.h"
#include "vmnetd/loop.h"

struct api_ctx {
	struct loop *loop;	/* shutdown quits it */
	GPtrArray *nets;	/* struct network *, in declaration order; not owned */
};

/* An api_request_fn over @opaque, a struct api_ctx: always a reply line,
 * {"return": ...} or {"error": {"desc": ...}}. */
char *api_handle_request(void *opaque, const char *req, size_t len, int *fd,
			 const struct api_peer *peer);

#endif

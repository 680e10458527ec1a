/* dhcp_options.h - bounds-checked reading and writing of BOOTP messages' DHCP options (RFC 2132).
 *
 * The walker never reads outside the area it was given: an option whose
 * length runs past the area stops the walk and says so. The writer never
 * writes past its buffer and always keeps room for the end option.
 */
#ifndef VMNETD_DHCP_OPTIONS_H
#define VMNETD_DHCP_OPTIONS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fixed BOOTP header (RFC 2131 figure 1), then the magic cookie, then options. */
#define BOOTP_OP		0
#define BOOTP_HTYPE		1
#define BOOTP_HLEN		2
#define BOOTP_XID		4
#define BOOTP_FLAGS		10
#define BOOTP_CIADDR		12
#define BOOTP_YIADDR		16
#define BOOTP_SIADDR		20
#define BOOTP_GIADDR		24
#define BOOTP_CHADDR		28
#define BOOTP_FILE		108
#define BOOTP_FILE_LEN		128
#define BOOTP_COOKIE		236
#define BOOTP_OPTIONS		240
#define BOOTP_FLAG_BROADCAST	0x8000
#define BOOTREQUEST		1
#define BOOTREPLY		2
#define BOOTP_HTYPE_ETHER	1

enum dhcp_opt_code {
	DHCP_OPT_PAD = 0,
	DHCP_OPT_NETMASK = 1,
	DHCP_OPT_ROUTER = 3,
	DHCP_OPT_DNS = 6,
	DHCP_OPT_HOSTNAME = 12,
	DHCP_OPT_DOMAIN = 15,
	DHCP_OPT_MTU = 26,
	DHCP_OPT_BROADCAST = 28,
	DHCP_OPT_REQUESTED_IP = 50,
	DHCP_OPT_LEASE_TIME = 51,
	DHCP_OPT_OVERLOAD = 52,
	DHCP_OPT_MSG_TYPE = 53,
	DHCP_OPT_SERVER_ID = 54,
	DHCP_OPT_PARAM_REQUEST = 55,
	DHCP_OPT_MESSAGE = 56,
	DHCP_OPT_MAX_MSG_SIZE = 57,
	DHCP_OPT_T1 = 58,
	DHCP_OPT_T2 = 59,
	DHCP_OPT_CLIENT_ID = 61,
	DHCP_OPT_SEARCH = 119,
	DHCP_OPT_END = 255,
};

enum dhcp_msg_type {
	DHCPDISCOVER = 1,
	DHCPOFFER,
	DHCPREQUEST,
	DHCPDECLINE,
	DHCPACK,
	DHCPNAK,
	DHCPRELEASE,
	DHCPINFORM,
};

/* Why a walk stopped. */
enum dhcp_opt_stop {
	DHCP_OPT_WALKING,		/* not yet */
	DHCP_OPT_AT_END,		/* at the end option; its offset is in 'off' */
	DHCP_OPT_RAN_OUT,		/* the area ended without an end option */
	DHCP_OPT_OVERRUN,		/* an option's length runs past the area: malformed */
};

struct dhcp_opt_walk {
	const uint8_t *area;
	size_t len;
	size_t off;			/* next byte to look at */
	enum dhcp_opt_stop stop;
};

/* One option; data points into the walked area and holds len bytes. */
struct dhcp_opt {
	uint8_t code;
	uint8_t len;
	const uint8_t *data;
};

/* Locates the options area of a BOOTP message (after the magic cookie).
 * False when @msg is too short for header and cookie, or the cookie is wrong. */
bool dhcp_msg_options(const uint8_t *msg, size_t len, const uint8_t **area, size_t *area_len);

/* Starts a walk over @area (@len bytes). */
void dhcp_opt_walk_init(struct dhcp_opt_walk *w, const uint8_t *area, size_t len);
/* Fills @o with the next option, pads skipped. False when the walk stops;
 * w->stop then says why. */
bool dhcp_opt_next(struct dhcp_opt_walk *w, struct dhcp_opt *o);
/* Checks that the whole area walks cleanly (no option overruns it). */
bool dhcp_opts_valid(const uint8_t *area, size_t len);
/* The first option @code in @area; a repeat is ignored, as it may come from
 * a confused client and the first is what it meant. False when absent. */
bool dhcp_opt_find(const uint8_t *area, size_t len, uint8_t code, struct dhcp_opt *o);
/* Option @code holding exactly 1 or 4 bytes; false when absent or of another length. */
bool dhcp_opt_get_u8(const uint8_t *area, size_t len, uint8_t code, uint8_t *v);
bool dhcp_opt_get_u32(const uint8_t *area, size_t len, uint8_t code, uint32_t *v);
bool dhcp_opt_get_addr(const uint8_t *area, size_t len, uint8_t code, struct in_addr *a);

struct dhcp_opt_writer {
	uint8_t *buf;
	size_t cap;
	size_t off;			/* bytes written so far */
};

/* Starts writing options into @buf (@cap bytes; one is kept for the end option). */
void dhcp_opt_writer_init(struct dhcp_opt_writer *w, uint8_t *buf, size_t cap);
/* Appends option @code with @len bytes of @data; more than 255 bytes go as
 * consecutive options of the same code (RFC 3396). All or nothing: false,
 * and nothing written, when it does not fit. */
bool dhcp_opt_put(struct dhcp_opt_writer *w, uint8_t code, const void *data, size_t len);
bool dhcp_opt_put_u8(struct dhcp_opt_writer *w, uint8_t code, uint8_t v);
bool dhcp_opt_put_u16(struct dhcp_opt_writer *w, uint8_t code, uint16_t v);
bool dhcp_opt_put_u32(struct dhcp_opt_writer *w, uint8_t code, uint32_t v);
bool dhcp_opt_put_addr(struct dhcp_opt_writer *w, uint8_t code, struct in_addr a);
/* Writes the end option (room for it is always kept); returns bytes written in all. */
size_t dhcp_opt_finish(struct dhcp_opt_writer *w);

#endif

/* fuzz_switch.c - the switch's header handling: frames from fake ports, with ageing, congestion and ports that come and go. */
#include "fuzz.h"

#include "vmnetd/switch.h"

#define NPORTS	4
#define UPLINK	3		/* owns a static MAC, as an uplink does */
#define MS	1000000LL

static const uint8_t uplink_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

struct fake_port {
	struct port port;
	unsigned delivered;
};

static struct port *ingress;	/* the port whose frame the switch is forwarding */

static enum port_verdict fake_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct fake_port *fp = (struct fake_port *)p;
	volatile uint8_t sink = 0;

	/* Nothing goes back out of the port it came in on. */
	FUZZ_CHECK(p != ingress);
	FUZZ_CHECK(len >= 14);
	/* Touch every byte: ASan then sees a frame pointer past its input. */
	for (size_t i = 0; i < len; i++)
		sink ^= frame[i];
	(void)sink;
	fp->delivered++;
	return len & 1 ? PORT_QUEUED : PORT_DROPPED;
}

static const struct port_ops fake_ops = { .kind = "fake", .deliver = fake_deliver };

struct count {
	unsigned learned[NPORTS];
	struct fake_port *ports;
};

static void count_entry(const uint8_t mac[6], struct port *p, bool is_static, int64_t age_s,
			void *opaque)
{
	struct count *c = opaque;

	(void)mac;
	(void)age_s;
	if (is_static)
		return;
	for (int i = 0; i < NPORTS; i++)
		if (p == &c->ports[i].port)
			c->learned[i]++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

/* Each record: one control byte, then a frame.
 *   bits 0-1  the ingress port
 *   bit 2     301 s pass first (every learned entry is then stale)
 *   bit 3     switch_age() afterwards
 *   bit 4     toggle the ingress port's congestion (backlog above its mark)
 *   bit 5     the ingress port leaves the switch first and comes back
 *   bit 6     switch_resume_waiting() afterwards
 *   bit 7     1 ms passes first */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size };
	struct vswitch *sw = switch_new(SWITCH_AGEING_NS);
	struct fake_port ports[NPORTS];
	int64_t now = 0;
	uint8_t *rec;
	size_t len;

	for (int i = 0; i < NPORTS; i++) {
		memset(&ports[i], 0, sizeof(ports[i]));
		port_init(&ports[i].port, &fake_ops, g_strdup_printf("p%d", i));
		ports[i].port.backlog_high = 1000;
		ports[i].port.may_pause = i == UPLINK;
		switch_add_port(sw, &ports[i].port);
	}
	ports[0].port.fdb_max = 3;	/* reach the per-port limit quickly */
	switch_add_static(sw, &ports[UPLINK].port, uplink_mac);

	while ((rec = fuzz_record(&r, &len))) {
		uint8_t ctl = len ? rec[0] : 0;
		struct fake_port *in = &ports[ctl & 3];
		const uint8_t *frame = rec + 1;
		size_t flen = len ? len - 1 : 0;
		unsigned total = 0, receivers = 0;
		struct port *known;
		struct count c = { .ports = ports };

		if (ctl & 0x04)
			now += SWITCH_AGEING_NS + 1000 * MS;
		if (ctl & 0x80)
			now += MS;
		if (ctl & 0x10)
			in->port.backlog = in->port.backlog ? 0 : 2000;
		if (ctl & 0x20) {
			switch_del_port(sw, &in->port);
			FUZZ_CHECK(in->port.fdb_entries == 0);
			switch_add_port(sw, &in->port);
			if (in == &ports[UPLINK])
				switch_add_static(sw, &in->port, uplink_mac);
		}
		for (int i = 0; i < NPORTS; i++)
			ports[i].delivered = 0;
		ingress = &in->port;
		switch_input(sw, &in->port, frame, flen, now);
		ingress = NULL;
		/* Where the destination was at forwarding time: learning the
		 * source comes first and may have moved it (source == destination). */
		known = flen >= 14 && !(frame[0] & 1) ? switch_lookup(sw, frame, now) : NULL;
		for (int i = 0; i < NPORTS; i++) {
			total += ports[i].delivered;
			receivers += ports[i].delivered > 0;
		}
		/* Runt or hairpin: nobody; known unicast: its port; else every other. */
		if (flen < 14)
			FUZZ_CHECK(total == 0);
		else if (known == &in->port)
			FUZZ_CHECK(total == 0);
		else if (known)
			FUZZ_CHECK(total == 1 && ((struct fake_port *)known)->delivered == 1);
		else
			FUZZ_CHECK(total == NPORTS - 1 && receivers == NPORTS - 1);
		if (ctl & 0x08)
			switch_age(sw, now);
		if (ctl & 0x40)
			switch_resume_waiting(sw, now);

		/* The static MAC never moves; each port's count matches the table. */
		FUZZ_CHECK(switch_lookup(sw, uplink_mac, now) == &ports[UPLINK].port);
		FUZZ_CHECK(switch_fdb_size(sw) <= SWITCH_FDB_MAX);
		switch_foreach_fdb(sw, 0, count_entry, &c);	/* time 0: every entry counts as live */
		for (int i = 0; i < NPORTS; i++) {
			FUZZ_CHECK(ports[i].port.fdb_entries == c.learned[i]);
			FUZZ_CHECK(ports[i].port.fdb_entries <= ports[i].port.fdb_max);
		}
		g_free(rec);
	}
	for (int i = 0; i < NPORTS; i++) {
		switch_del_port(sw, &ports[i].port);
		port_fini(&ports[i].port);
	}
	switch_free(sw);
	return 0;
}

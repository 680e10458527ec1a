/* relay.h - the guestfwd helper: copies stdin/stdout to and from a TCP or unix target. */
#ifndef VMNETD_RELAY_H
#define VMNETD_RELAY_H

/* Relays running at once for one daemon: each is a process (libslirp
 * starts one per guest connection), so 300 handshakes were 300 processes. */
#define RELAY_SLOTS 64

/* Connects to @target (unix:PATH or tcp:HOST:PORT) and relays until both
 * directions end; with @slot_key (the daemon's), only while fewer than
 * RELAY_SLOTS relays of that daemon run. Returns an exit status. */
int relay_run(const char *target, const char *slot_key);

#endif

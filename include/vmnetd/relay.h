/* relay.h - the guestfwd helper: copies stdin/stdout to and from a TCP or unix target. */
#ifndef VMNETD_RELAY_H
#define VMNETD_RELAY_H

/* Connects to @target (unix:PATH or tcp:HOST:PORT) and relays until both
 * directions end. Returns an exit status. */
int relay_run(const char *target);

#endif

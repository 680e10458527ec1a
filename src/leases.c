/* leases.c - placeholder; being written. */

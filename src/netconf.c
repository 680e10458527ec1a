/* netconf.c - placeholder; being written. */

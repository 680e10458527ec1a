/* dhcp_server.c - placeholder; being written. */

"""Control: the Unix socket between xintuctl and the daemon — protocol, server, handlers, client."""

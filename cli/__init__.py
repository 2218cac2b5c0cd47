"""`qa`: the command-line shell over the same Engine as the HTTP API (api/)."""

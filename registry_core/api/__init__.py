"""The registry server's HTTP API, declared once for the server and the HTTP store."""

"""Gateway service: the product's HTTP API, mapping services' errors to HTTP answers."""

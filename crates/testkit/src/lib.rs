//! Test-only helpers: start a real Distribution registry (`docker-registry`) on a free
//! loopback port, seed it with images through the registry API, and shared test context.

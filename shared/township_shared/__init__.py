"""Library every township service shares: config, event envelope and schemas, errors, Mongo and clock dependencies."""

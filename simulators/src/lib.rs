//! Device simulators speaking the real wire protocols; the load generator arrives with the ingest pipeline.

//! pgbouncer-k8s charm.

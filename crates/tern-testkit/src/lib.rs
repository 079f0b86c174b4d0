//! tern-testkit

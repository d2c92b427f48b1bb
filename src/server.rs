//! (server: to be implemented)

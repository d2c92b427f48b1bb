//! (results: to be implemented)

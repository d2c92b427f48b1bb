//! (sweep: to be implemented)

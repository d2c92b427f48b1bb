//! (report: to be implemented)

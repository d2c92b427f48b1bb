//! (standin: to be implemented)

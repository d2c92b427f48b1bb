//! (gpu: to be implemented)

//! deid readers and writers.

//! deid transforms.

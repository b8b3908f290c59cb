//! The driver API: the `extern "C"` functions cudarc resolves by name.
//! (being written)

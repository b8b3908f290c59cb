//! The arithmetic of PTX's floating-point instruction forms, bit for bit.
//! (being written)

//! appointment

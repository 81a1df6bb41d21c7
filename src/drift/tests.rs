//! Unit and property tests of the drift statistics.

//! Where observations leave the process. Today: the Prometheus registry and its text
//! exposition, served by the admin listener.

pub mod prometheus;

//! The credit scheduler: per-domain weights and caps, credits, boost, CPU-time accounting.

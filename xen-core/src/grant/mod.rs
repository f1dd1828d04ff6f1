//! Grant tables v1: grant entries, active grants, maptrack, map/unmap and copy.

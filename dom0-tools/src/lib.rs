//! The Dom0 toolstack (domain builder, xl.cfg parser, xenstored, xl); arrives with issue 5.
#![no_std]
#![forbid(unsafe_code)]

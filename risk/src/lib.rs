//! Tollgate's risk scorer (see issue 4). Pure library: no HTTP, no SQL, no clock of its own.
#![forbid(unsafe_code)]

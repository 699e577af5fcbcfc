//! shout-embedded-io: drives a shout-core session over embedded-io (work in progress).
#![no_std]

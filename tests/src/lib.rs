//! End-to-end tests of the shout workspace live in `tests/tests/`; what
//! they share (the reference model, frame encoders, the checked driver of
//! a `Server`) is the `shout-testkit` crate. This library is empty: it only
//! gives the tests a package.

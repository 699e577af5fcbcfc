//! shout-mio: drives shout-core sessions on mio (work in progress).

//! Bytes a connection holds between events: a payload waited for whole,
//! output the socket refused, and the unanswered input behind it.
//!
//! Large buffers are anonymous memory maps, not heap allocations: unmapped
//! when dropped, their memory goes back to the system at once. From the
//! heap, megabyte payloads held by hundreds of stalled clients stay in the
//! allocator's arenas after they are freed (measured: 20 MiB still resident
//! five seconds after a hostile soak's clients had all gone), since glibc
//! raises its mmap threshold once a large block is freed and serves the
//! next ones from the heap.

use memmap2::MmapMut;

/// Buffers from this size on are mapped (four pages: below it a map's
/// rounding and system calls cost more than the heap's arenas keep).
const MAPPED_FROM: usize = 16 * 1024;

/// A buffer of held input with a fixed capacity chosen when it is made.
pub(crate) struct Held {
    store: Store,
    len: usize,
}

enum Store {
    Heap(Vec<u8>),
    Mapped(MmapMut),
}

impl Default for Held {
    fn default() -> Self {
        Held {
            store: Store::Heap(Vec::new()),
            len: 0,
        }
    }
}

impl Held {
    /// An empty buffer with room for `n` bytes.
    pub(crate) fn with_capacity(n: usize) -> Held {
        let store = if n >= MAPPED_FROM {
            match MmapMut::map_anon(n) {
                Ok(map) => Store::Mapped(map),
                Err(_) => Store::Heap(Vec::with_capacity(n)),
            }
        } else {
            Store::Heap(Vec::with_capacity(n))
        };
        Held { store, len: 0 }
    }

    /// A buffer holding exactly `bytes`.
    pub(crate) fn from_slice(bytes: &[u8]) -> Held {
        let mut h = Held::with_capacity(bytes.len());
        h.extend_from_slice(bytes);
        h
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of memory this buffer takes.
    pub(crate) fn capacity(&self) -> usize {
        match &self.store {
            Store::Heap(v) => v.capacity(),
            Store::Mapped(m) => m.len(),
        }
    }

    /// Appends `bytes`, growing (by a new buffer) if they do not fit.
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.capacity() {
            self.reserve_exact(self.len + bytes.len() - self.capacity());
        }
        match &mut self.store {
            Store::Heap(v) => v.extend_from_slice(bytes),
            Store::Mapped(m) => m[self.len..self.len + bytes.len()].copy_from_slice(bytes),
        }
        self.len += bytes.len();
    }

    /// Makes room for `more` bytes beyond the length, exactly.
    pub(crate) fn reserve_exact(&mut self, more: usize) {
        let want = self.len + more;
        if want <= self.capacity() {
            return;
        }
        let mut bigger = Held::with_capacity(want);
        bigger.extend_from_slice(self.as_mut_slice());
        *self = bigger;
    }

    /// The bytes held.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match &self.store {
            Store::Heap(v) => &v[..],
            Store::Mapped(m) => &m[..self.len],
        }
    }

    /// The bytes held, to change.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut self.store {
            Store::Heap(v) => &mut v[..],
            Store::Mapped(m) => &mut m[..self.len],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_buffers_hold_what_is_put_in() {
        for cap in [10, MAPPED_FROM, 3 * MAPPED_FROM] {
            let mut h = Held::with_capacity(cap);
            assert!(h.is_empty());
            assert_eq!(h.capacity(), cap);
            h.extend_from_slice(b"abc");
            h.extend_from_slice(&vec![b'x'; cap - 3]);
            assert_eq!(h.len(), cap);
            assert_eq!(&h.as_mut_slice()[..4], b"abcx");
            h.extend_from_slice(b"more");
            assert_eq!(h.len(), cap + 4);
            assert_eq!(&h.as_mut_slice()[cap..], b"more");
        }
        assert_eq!(Held::from_slice(b"hi").as_mut_slice(), b"hi");
    }
}

//! A driver for the ARM PrimeCell PL011 UART (the LM3S6965's UART0..2),
//! implementing `embedded_io::{Read, Write, ReadReady, WriteReady}`.
//!
//! `read` and `write` block until they can move at least one byte, then
//! move as many as the FIFOs allow without waiting more; `read_ready` and
//! `write_ready` say whether they would block. Receive errors (framing,
//! parity, break, overrun) are reported by `read` once, in order with the
//! data: the bytes before the bad one come first. A byte the receiver
//! already held when `init` configured it is not lost (see `init`).

use core::ptr::{read_volatile, write_volatile};

// Register offsets.
const DR: usize = 0x000;
const RSR_ECR: usize = 0x004;
const FR: usize = 0x018;
const IBRD: usize = 0x024;
const FBRD: usize = 0x028;
const LCRH: usize = 0x02C;
const CR: usize = 0x030;
const IFLS: usize = 0x034;
const IM: usize = 0x038;
const ICR: usize = 0x044;

// Flag register.
const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;

// Receive status bits that come with each byte in DR.
const DR_FE: u32 = 1 << 8;
const DR_PE: u32 = 1 << 9;
const DR_BE: u32 = 1 << 10;
const DR_OE: u32 = 1 << 11;

// Line control: 8 data bits, FIFOs on.
const LCRH_FEN: u32 = 1 << 4;
const LCRH_WLEN_8: u32 = 0b11 << 5;

// Control: UART, transmitter and receiver enabled.
const CR_UARTEN: u32 = 1 << 0;
const CR_TXE: u32 = 1 << 8;
const CR_RXE: u32 = 1 << 9;

/// Interrupt sources, for [`Pl011::listen`].
pub mod irq {
    /// Receive FIFO reached its trigger level.
    pub const RX: u32 = 1 << 4;
    /// Transmit FIFO drained to its trigger level.
    pub const TX: u32 = 1 << 5;
    /// Bytes wait in the receive FIFO and the line went quiet.
    pub const RX_TIMEOUT: u32 = 1 << 6;
    /// Framing, parity, break or overrun error.
    pub const ERRORS: u32 = 0b1111 << 7;
}

/// A receive error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A byte arrived while the receive FIFO was full; it was lost.
    Overrun,
    /// The line was held low longer than a character: a break.
    Break,
    /// A byte failed its parity check and was dropped.
    Parity,
    /// A byte had no valid stop bit and was dropped.
    Framing,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Overrun => "receive overrun",
            Error::Break => "break condition",
            Error::Parity => "parity error",
            Error::Framing => "framing error",
        })
    }
}

impl core::error::Error for Error {}

impl embedded_io::Error for Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            Error::Overrun => embedded_io::ErrorKind::Other,
            _ => embedded_io::ErrorKind::InvalidData,
        }
    }
}

/// One PL011 instance.
pub struct Pl011 {
    base: usize,
    /// An error met after some bytes were already returned.
    pending: Option<Error>,
    /// A byte the receiver held when [`init`](Pl011::init) emptied the
    /// FIFOs; `read` returns it first.
    early: Option<u8>,
}

impl Pl011 {
    /// Takes the UART at `base`.
    ///
    /// # Safety
    /// `base` must be a PL011's register block, its clock must be on, and
    /// nothing else may drive it while this value lives.
    pub const unsafe fn new(base: usize) -> Self {
        Pl011 {
            base,
            pending: None,
            early: None,
        }
    }

    /// Sets 8N1 at `baud` from a `clock_hz` reference, FIFOs on, and
    /// enables the receiver and transmitter.
    ///
    /// Turning the FIFOs on empties them, so call it first thing at boot:
    /// bytes that arrive before it are lost, except one the receiver
    /// already holds, which is kept and read first. (The real chip
    /// receives nothing before it is enabled; QEMU's model receives from
    /// power-on, and with its FIFO off holds one byte and leaves the rest
    /// waiting, so a client that talks at once loses nothing.)
    pub fn init(&mut self, clock_hz: u32, baud: u32) {
        // Off while configuring.
        self.write_reg(CR, 0);
        // Divisor = clock / (16 * baud) in 16.6 fixed point, rounded.
        let div64 = ((clock_hz as u64 * 4) + (baud as u64 / 2)) / baud as u64;
        self.write_reg(IBRD, (div64 >> 6) as u32);
        self.write_reg(FBRD, (div64 & 0x3F) as u32);
        // Keep a byte already held. Reading it lets the next one in, which
        // turning the FIFOs on would drop, so read it (whether there is one
        // or not: reading an empty receiver does nothing) and turn them on
        // back to back, with no branch in between, and decide after. (Under
        // QEMU a byte can still slip in between, rarely, on a busy host.)
        let held = self.flags() & FR_RXFE == 0;
        let word = self.read_reg(DR);
        self.write_reg(LCRH, LCRH_WLEN_8 | LCRH_FEN); // also latches the divisor
        if held && word & (DR_OE | DR_BE | DR_FE | DR_PE) == 0 {
            self.early = Some(word as u8);
        }
        self.write_reg(IFLS, 0); // interrupt at 1/8 full / 1/8 empty
        self.write_reg(IM, 0);
        self.write_reg(ICR, 0x7FF);
        self.write_reg(RSR_ECR, 0); // clear stale receive errors
        self.write_reg(CR, CR_UARTEN | CR_TXE | CR_RXE);
    }

    /// Unmasks the interrupt sources in `mask` (see [`irq`]).
    pub fn listen(&mut self, mask: u32) {
        self.write_reg(IM, mask & 0x7FF);
    }

    fn flags(&self) -> u32 {
        self.read_reg(FR)
    }

    fn read_reg(&self, off: usize) -> u32 {
        // SAFETY: `new`'s contract: a PL011 register block lives here.
        unsafe { read_volatile((self.base + off) as *const u32) }
    }

    fn write_reg(&mut self, off: usize, value: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { write_volatile((self.base + off) as *mut u32, value) }
    }
}

/// Masks every interrupt of the PL011 at `base`, from an interrupt handler.
///
/// # Safety
/// `base` must be a PL011's register block.
pub unsafe fn mask_interrupts(base: usize) {
    // SAFETY: the caller vouches for `base`; IM is written, nothing else.
    unsafe { write_volatile((base + IM) as *mut u32, 0) }
}

impl embedded_io::ErrorType for Pl011 {
    type Error = Error;
}

impl embedded_io::Read for Pl011 {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        if let Some(byte) = self.early.take() {
            buf[0] = byte;
            n = 1;
        } else {
            while self.flags() & FR_RXFE != 0 {
                core::hint::spin_loop();
            }
        }
        while n < buf.len() && self.flags() & FR_RXFE == 0 {
            let word = self.read_reg(DR);
            let error = if word & DR_BE != 0 {
                Some(Error::Break)
            } else if word & DR_FE != 0 {
                Some(Error::Framing)
            } else if word & DR_PE != 0 {
                Some(Error::Parity)
            } else {
                None
            };
            if word & (DR_OE | DR_BE | DR_FE | DR_PE) != 0 {
                self.write_reg(RSR_ECR, 0);
            }
            if let Some(e) = error {
                // The byte is bad: drop it, report after what came before.
                return if n == 0 {
                    Err(e)
                } else {
                    self.pending = Some(e);
                    Ok(n)
                };
            }
            buf[n] = word as u8;
            n += 1;
            if word & DR_OE != 0 {
                // This byte is good; one after it was lost.
                self.pending = Some(Error::Overrun);
                return Ok(n);
            }
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for Pl011 {
    fn read_ready(&mut self) -> Result<bool, Error> {
        Ok(self.pending.is_some() || self.early.is_some() || self.flags() & FR_RXFE == 0)
    }
}

impl embedded_io::Write for Pl011 {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.flags() & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        let mut n = 0;
        while n < buf.len() && self.flags() & FR_TXFF == 0 {
            self.write_reg(DR, buf[n] as u32);
            n += 1;
        }
        Ok(n)
    }

    /// Waits until the last byte has left the shift register.
    fn flush(&mut self) -> Result<(), Error> {
        while self.flags() & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
        Ok(())
    }
}

impl embedded_io::WriteReady for Pl011 {
    fn write_ready(&mut self) -> Result<bool, Error> {
        Ok(self.flags() & FR_TXFF == 0)
    }
}

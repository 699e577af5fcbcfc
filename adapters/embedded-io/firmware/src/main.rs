//! SHOUT/1 on UART0 of an LM3S6965 (QEMU's `lm3s6965evb`).
//!
//! A superloop: poll the non-blocking driver; when it would block, sleep
//! (WFI) until the UART or the 1 ms SysTick interrupts. The UART is a
//! link with no end of input, so sessions follow one another: `auto`
//! framing decides each from its first byte; a raw session ends when the
//! line has been quiet for [`IDLE_TIMEOUT_MS`].
//!
//! Memory: the two I/O buffers ([`RX_LEN`], [`TX_LEN`]) are statics; the
//! session itself (about 200 bytes) and the driver live on the stack of
//! `main`. No heap.
#![no_std]
#![no_main]

mod pl011;

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use shout_core::{Config, Duration, Instant};
use shout_embedded_io::{LinkMode, NbServer};

use pl011::Pl011;

/// UART0's register block.
const UART0: usize = 0x4000_C000;
/// The system clock at reset as QEMU models it (RCC's SYSDIV gives
/// 200 MHz / 16 = 12.5 MHz); SysTick runs from it.
const SYSCLK_HZ: u32 = 12_500_000;
/// Idle timeout of every session: what ends a raw session on the UART.
/// Short, so a test can move from one session to the next quickly.
const IDLE_TIMEOUT_MS: u64 = 400;
/// Receive buffer: bytes read from the UART and not yet answered.
const RX_LEN: usize = 256;
/// Transmit buffer: answers not yet taken by the UART.
const TX_LEN: usize = 256;

/// Milliseconds since boot, counted by SysTick (wraps after 49 days; the
/// main loop widens it).
static TICKS_MS: AtomicU32 = AtomicU32::new(0);

/// LM3S6965 interrupt numbers this firmware uses.
#[derive(Clone, Copy)]
enum Irq {
    Uart0 = 5,
}

// SAFETY: 5 is UART0's position in the LM3S6965 vector table.
unsafe impl InterruptNumber for Irq {
    fn number(self) -> u16 {
        self as u16
    }
}

/// Turns on the clocks of UART0 and GPIO port A and gives PA0/PA1 to the
/// UART, as on the real chip (QEMU does not need it).
fn board_init() {
    const SYSCTL_RCGC1: *mut u32 = 0x400F_E104 as *mut u32;
    const SYSCTL_RCGC2: *mut u32 = 0x400F_E108 as *mut u32;
    const GPIOA_AFSEL: *mut u32 = 0x4000_4420 as *mut u32;
    const GPIOA_DEN: *mut u32 = 0x4000_451C as *mut u32;
    // SAFETY: fixed LM3S6965 system control and GPIO registers, written
    // once at boot before anything else uses them.
    unsafe {
        set_bits(SYSCTL_RCGC1, 1 << 0); // UART0
        set_bits(SYSCTL_RCGC2, 1 << 0); // GPIOA
        cortex_m::asm::delay(16); // a few cycles for the clocks to settle
        set_bits(GPIOA_AFSEL, 0b11);
        set_bits(GPIOA_DEN, 0b11);
    }
}

/// Sets bits in a memory-mapped register.
unsafe fn set_bits(reg: *mut u32, bits: u32) {
    // SAFETY: the caller passes a valid register address.
    unsafe { reg.write_volatile(reg.read_volatile() | bits) }
}

/// Widens the 32-bit millisecond counter into the core's clock.
struct Clock {
    last: u32,
    wraps: u64,
}

impl Clock {
    fn now(&mut self) -> Instant {
        let t = TICKS_MS.load(Ordering::Relaxed);
        if t < self.last {
            self.wraps += 1;
        }
        self.last = t;
        Instant::from_millis((self.wraps << 32) | t as u64)
    }
}

/// What the free RAM between the statics and the stack is filled with at
/// boot, so a RAM dump shows how deep the stack ever went (FIRMWARE.md).
const STACK_PAINT: u32 = 0x5A5A_5A5A;

/// Fills the unused stack below the current frame with [`STACK_PAINT`].
fn paint_stack() {
    extern "C" {
        // End of the statics, from cortex-m-rt's link.x.
        static mut __sheap: u32;
    }
    let bottom = core::ptr::addr_of_mut!(__sheap);
    // Leave 64 bytes below this frame for the loop itself.
    let top = (cortex_m::register::msp::read() as usize - 64) as *mut u32;
    let mut p = bottom;
    while p < top {
        // SAFETY: between the end of the statics and below the live stack:
        // memory nobody uses yet.
        unsafe {
            p.write_volatile(STACK_PAINT);
            p = p.add(1);
        }
    }
}

#[entry]
fn main() -> ! {
    static mut RX: [u8; RX_LEN] = [0; RX_LEN];
    static mut TX: [u8; TX_LEN] = [0; TX_LEN];

    // UART0 before anything else: a client may start talking the moment
    // the board is up, and configuring UART0 empties its receive FIFO.
    // (The real chip receives nothing before that; QEMU's model lets one
    // byte in, which `init` keeps, and holds the rest back.)
    board_init();
    // SAFETY: UART0's registers, its clock is on, and only this code
    // (and the handler below, which only masks its interrupts) uses it.
    let mut uart = unsafe { Pl011::new(UART0) };
    uart.init(SYSCLK_HZ, 115_200);

    paint_stack();

    let mut cp = cortex_m::Peripherals::take().unwrap_or_else(|| fail());

    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(SYSCLK_HZ / 1000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();
    // SAFETY: the UART0 handler only masks the UART's interrupts.
    unsafe { cortex_m::peripheral::NVIC::unmask(Irq::Uart0) };

    let config = Config::DEFAULT.with_idle_timeout(Some(Duration::from_millis(IDLE_TIMEOUT_MS)));
    let mut clock = Clock { last: 0, wraps: 0 };
    let mut server = match NbServer::new(uart, config, LinkMode::Continuous, RX, TX, clock.now()) {
        Ok(s) => s,
        Err(_) => fail(),
    };

    loop {
        match server.poll(clock.now()) {
            Ok(_) => {}
            // A receive error (noise on the line): the driver lost nothing
            // of what it holds, so go on; the session answers what arrives.
            Err(nb::Error::Other(_)) => {}
            Err(nb::Error::WouldBlock) => {
                // Sleep until the UART has something for us or SysTick
                // ticks (the session's own deadline, poll_timeout(), is at
                // least a tick away). Interrupts are masked from the check
                // to the WFI so a byte arriving in between still wakes it.
                cortex_m::interrupt::free(|_| {
                    let wants_write = server.wants_write();
                    let wants_read = server.wants_read();
                    let uart = server.link_mut();
                    let mut mask = 0;
                    if wants_read {
                        mask |= pl011::irq::RX | pl011::irq::RX_TIMEOUT | pl011::irq::ERRORS;
                    }
                    if wants_write {
                        mask |= pl011::irq::TX;
                    }
                    uart.listen(mask);
                    let ready = (wants_read
                        && embedded_io::ReadReady::read_ready(uart) == Ok(true))
                        || (wants_write && embedded_io::WriteReady::write_ready(uart) == Ok(true));
                    if !ready {
                        cortex_m::asm::wfi();
                    }
                });
            }
        }
    }
}

#[exception]
fn SysTick() {
    TICKS_MS.fetch_add(1, Ordering::Relaxed);
}

/// Every interrupt without its own handler; here only UART0 is enabled.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == Irq::Uart0 as i16 {
        // Wake the main loop; it reads the UART and re-arms the interrupt.
        // SAFETY: UART0's register block; only IM is written.
        unsafe { pl011::mask_interrupts(UART0) };
    }
}

#[exception]
unsafe fn HardFault(_frame: &cortex_m_rt::ExceptionFrame) -> ! {
    fail()
}

/// Stops: under QEMU with semihosting, exits with a failure status so a
/// test notices.
fn fail() -> ! {
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    fail()
}

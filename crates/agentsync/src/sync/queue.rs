//! A bounded multi-producer multi-consumer queue of `i32` values made of plain words: Dmitry
//! Vyukov's bounded MPMC ring (a sequence word per slot), with futex waiting added.
//!
//! Each slot has a sequence word saying whose turn it is: the sender at position `p` may write
//! slot `p % capacity` when its sequence is `p`, and the receiver at `p` may read it when it is
//! `p + 1`. Senders and receivers claim positions with a compare-exchange on `head` / `tail`.
//! A sequence word is stored minus its slot index, so an all-zero ring is a valid empty queue.
//!
//! Waiting: a receiver that finds the ring empty first backs off for a few rounds (pauses,
//! then yields; see `backoff.rs`), since a sender is often about to arrive. Then it counts
//! itself in `receivers_waiting` and makes one last check: a read-modify-write of `head`, the
//! word senders claim positions on. It sleeps on the `sent` word only if nothing is claimed
//! beyond `tail`; a send claimed but not yet written makes it yield and try again. A send that
//! then sees `receivers_waiting` non-zero bumps `sent` and notifies one receiver. Why no wake-up
//! is lost: all read-modify-writes of `head` are ordered, so either the sender's claim (an
//! `Acquire` compare-exchange) reads the receiver's check and sees its count, or the check
//! reads the claim. Senders waiting for room are symmetric (`senders_waiting`, a check of
//! `tail`, the `received` word). A sleeper reads the wake word before it tries and sleeps only
//! while it is unchanged, so a send or receive between its try and its sleep is never missed.
//! Without sleepers an operation costs one load beyond the ring itself, and no fence. Closing
//! sets a bit in `head` (no new sends can claim a position after it) and bumps both words,
//! waking everyone. Receivers drain what was sent before the close.
//!
//! Another agent (Wasm code, say) sharing a placed queue must follow the same protocol,
//! including the `Acquire` claims and the read-modify-write check before sleeping.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::backoff::{Backoff, Round};
use super::core::{self, Attempt, Step, Unfinished};
use crate::futex;
use crate::loom::atomic::{
    AtomicI32,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
#[cfg(not(loom))]
use crate::memory::{MemoryError, SharedMemory};

/// Positions and sequences count modulo 2³¹ (the low 31 bits).
const POSITION: u32 = 0x7FFF_FFFF;
/// Bit 31 of `head`: the queue is closed.
const CLOSED: i32 = i32::MIN;
/// Header size in words: two blocks of 32 (the senders' and the receivers'), seven used.
const HEADER_WORDS: usize = 64;
/// Where the receivers' block of header words starts: 128 bytes after the senders', so the
/// words each side writes on every operation sit on cache lines of their own.
const RECEIVERS_WORD: usize = 32;
/// The capacity word's index.
const CAPACITY_WORD: usize = 1;
/// The largest capacity: positions must wrap at a multiple of it.
pub const MAX_CAPACITY: u32 = 1 << 30;
/// The smallest capacity: with one slot, "full for this lap" and "empty for the next" would be
/// the same sequence value.
pub const MIN_CAPACITY: u32 = 2;

#[inline]
const fn valid_capacity(capacity: u32) -> bool {
    capacity.is_power_of_two() && capacity >= MIN_CAPACITY && capacity <= MAX_CAPACITY
}

/// After a send (receive): if anyone may sleep for it, bump the wake word and wake one.
///
/// `Relaxed` is enough: a would-be sleeper counts itself in `waiting` before its last check,
/// a read-modify-write of the claim word this operation claimed with an `Acquire`
/// compare-exchange (see [`read_claims`]). Either that claim read the sleeper's write, and
/// this load sees the count, or the sleeper's check saw this claim and it does not sleep.
#[inline]
fn wake_one(waiting: &AtomicI32, word: &AtomicI32) {
    if waiting.load(Relaxed) > 0 {
        wake_one_contended(word);
    }
}

#[cold]
fn wake_one_contended(word: &AtomicI32) {
    // Release: a sleeper that sees the bump also sees the ring change made before it.
    word.fetch_add(1, Release);
    futex::notify(word, 1);
}

/// The other side's claim word (`head` for receivers, `tail` for senders), read by a
/// read-modify-write after this side counted itself in its `waiting` word: the last check of
/// a would-be sleeper.
///
/// The other side claims positions on that word with `Acquire` compare-exchanges, and all
/// read-modify-writes of one word are totally ordered. If this `AcqRel` no-op comes first, the
/// next claim reads it (or a later write in its release sequence) and so sees the count; if it
/// comes later, it reads that claim, and the caller does not sleep. This pairing, unlike
/// `SeqCst` loads and stores, is modelled exactly by loom.
#[inline]
fn read_claims(claims: &AtomicI32) -> i32 {
    claims.fetch_add(0, AcqRel)
}

/// The next backoff round of an operation not yet counted as a would-be sleeper; once the
/// rounds are used up (`Done`), counts it in `waiting` (its `Drop` takes the count back).
fn back_off_or_register(backoff: &mut Backoff, waiting: &AtomicI32) -> Round {
    let round = backoff.next();
    if round == Round::Done {
        waiting.fetch_add(1, Relaxed);
    }
    round
}

/// `a - b` modulo 2³¹, as a signed distance.
#[inline]
fn distance(a: u32, b: u32) -> i32 {
    ((a.wrapping_sub(b) << 1) as i32) >> 1
}

/// The queue's words before the ring: the senders' block, then the receivers' block, each
/// 128 bytes (the prefetch pair of 64-byte lines), so a send and a receive running at once do
/// not fight over one cache line.
#[repr(C)]
struct Header {
    /// Next send position (bits 0–30) and the closed bit (31). Claimed by senders.
    head: AtomicI32,
    /// Slots in the ring: a power of two from 2 to 2³⁰. Constant after initialisation.
    capacity: AtomicI32,
    /// Bumped after a send that saw receivers waiting, and on close; receivers sleep on it.
    sent: AtomicI32,
    /// Receivers that may sleep; read by every send.
    receivers_waiting: AtomicI32,
    _senders_reserved: [std::sync::atomic::AtomicI32; RECEIVERS_WORD - 4],
    /// Next receive position. Claimed by receivers.
    tail: AtomicI32,
    /// Bumped after a receive that saw senders waiting, and on close; senders sleep on it.
    received: AtomicI32,
    /// Senders that may sleep; read by every receive.
    senders_waiting: AtomicI32,
    _receivers_reserved: [std::sync::atomic::AtomicI32; HEADER_WORDS - RECEIVERS_WORD - 3],
}

/// One ring slot.
#[repr(C)]
struct Slot {
    /// The slot's turn (see the module docs), minus the slot's index, modulo 2³¹.
    sequence: AtomicI32,
    /// The value, valid while the slot is full.
    value: AtomicI32,
}

/// `try_send` failed; the value is handed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrySendError {
    /// No free slot.
    Full(i32),
    /// The queue was closed.
    Closed(i32),
}

/// A waiting send failed; the value is handed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The queue was closed.
    Closed(i32),
    /// The timeout passed with the queue full.
    TimedOut(i32),
    /// The queue was full and this thread may not block.
    CannotBlock(i32),
}

/// `try_recv` found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued right now.
    Empty,
    /// Closed and drained: nothing will ever come.
    Closed,
}

/// A waiting receive failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// Closed and drained.
    Closed,
    /// The timeout passed with the queue empty.
    TimedOut,
    /// The queue was empty and this thread may not block.
    CannotBlock,
}

/// A capacity that is not a power of two from [`MIN_CAPACITY`] to [`MAX_CAPACITY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError(pub i64);

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(value) => write!(f, "queue full; value {value} not sent"),
            TrySendError::Closed(value) => write!(f, "queue closed; value {value} not sent"),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(value) => write!(f, "queue closed; value {value} not sent"),
            SendError::TimedOut(value) => write!(f, "queue stayed full; value {value} not sent"),
            SendError::CannotBlock(value) => write!(
                f,
                "queue full and Atomics.wait cannot be called in this context; value {value} not sent"
            ),
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "queue empty",
            TryRecvError::Closed => "queue closed and empty",
        })
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvError::Closed => "queue closed and empty",
            RecvError::TimedOut => "queue stayed empty until the timeout",
            RecvError::CannotBlock => {
                "queue empty and Atomics.wait cannot be called in this context"
            }
        })
    }
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "queue capacity {} is not a power of two from {MIN_CAPACITY} to {MAX_CAPACITY}",
            self.0
        )
    }
}

impl std::error::Error for TrySendError {}
impl std::error::Error for SendError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvError {}
impl std::error::Error for CapacityError {}

/// A bounded queue of `N` `i32` slots owned as a Rust value; use it through [`handle`](Self::handle).
///
/// # Layout
/// `#[repr(C)]`, alignment 128 (so the senders' and receivers' words sit on separate cache
/// lines): the header words, then the ring, [`QueueRef::size_for(N)`](QueueRef::size_for)
/// bytes, `256 + 8 × N`, rounded up to the alignment. See [`QueueRef`] for the words.
///
/// ```
/// use agentsync::sync::{Queue, TryRecvError, TrySendError};
/// let storage = Queue::<2>::new();
/// let queue = storage.handle();
/// queue.try_send(1).unwrap();
/// queue.send(2).unwrap();
/// assert_eq!(queue.try_send(3), Err(TrySendError::Full(3)));
/// assert_eq!(queue.recv(), Ok(1));
/// queue.close();
/// assert_eq!(queue.try_recv(), Ok(2));
/// assert_eq!(queue.try_recv(), Err(TryRecvError::Closed));
/// ```
#[repr(C, align(128))]
pub struct Queue<const N: usize> {
    header: Header,
    slots: [Slot; N],
}

/// A bounded MPMC queue of `i32` living in words: in a [`Queue`] or in shared memory.
///
/// # Layout
/// `capacity` a power of two; all words `i32`, little-endian in shared memory, alignment 4:
///
/// | byte offset | word | meaning |
/// |---|---|---|
/// | 0 | head | next send position (bits 0–30); bit 31 set once closed |
/// | 4 | capacity | slots in the ring (power of two, 2 to 2³⁰) |
/// | 8 | sent | bumped after a send that saw waiting receivers, and on close (receivers sleep on it) |
/// | 12 | receivers_waiting | receivers that may be asleep |
/// | 16–127 | reserved | zero |
/// | 128 | tail | next receive position |
/// | 132 | received | bumped after a receive that saw waiting senders, and on close (senders sleep on it) |
/// | 136 | senders_waiting | senders that may be asleep |
/// | 140–255 | reserved | zero |
/// | 256 + 8i | sequence of slot i | the slot's turn minus i, modulo 2³¹ |
/// | 260 + 8i | value of slot i | the queued value |
///
/// The words senders write on every send (bytes 0–127) and those receivers write (128–255)
/// are 128 bytes apart, so at an offset aligned to 128 they never share a cache line (4 is
/// enough for correctness).
///
/// All words zero except `capacity` is an empty open queue.
///
/// Order: values from one producer are received in the order it sent them.
#[derive(Clone, Copy)]
pub struct QueueRef<'a> {
    header: &'a Header,
    slots: &'a [Slot],
}

impl Slot {
    core::loom_const_fn! {
        fn new() -> Self {
            Slot {
                sequence: AtomicI32::new(0),
                value: AtomicI32::new(0),
            }
        }
    }
}

impl Header {
    core::loom_const_fn! {
        fn new(capacity: i32) -> Self {
            // The reserved words are std atomics even under loom: nothing touches them.
            Header {
                head: AtomicI32::new(0),
                capacity: AtomicI32::new(capacity),
                sent: AtomicI32::new(0),
                receivers_waiting: AtomicI32::new(0),
                _senders_reserved: [const { std::sync::atomic::AtomicI32::new(0) };
                    RECEIVERS_WORD - 4],
                tail: AtomicI32::new(0),
                received: AtomicI32::new(0),
                senders_waiting: AtomicI32::new(0),
                _receivers_reserved: [const { std::sync::atomic::AtomicI32::new(0) };
                    HEADER_WORDS - RECEIVERS_WORD - 3],
            }
        }
    }
}

impl<const N: usize> Queue<N> {
    const VALID: () = assert!(
        N <= MAX_CAPACITY as usize && valid_capacity(N as u32),
        "Queue capacity must be a power of two from 2 to 2^30"
    );

    /// An empty queue with `N` slots. `N` must be a power of two from 2 to 2³⁰ (checked at
    /// compile time).
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID;
        Queue {
            header: Header::new(N as i32),
            slots: [const { Slot::new() }; N],
        }
    }

    /// An empty queue with `N` slots.
    #[cfg(loom)]
    pub fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID;
        Queue {
            header: Header::new(N as i32),
            slots: std::array::from_fn(|_| Slot::new()),
        }
    }

    /// The queue's operations.
    pub fn handle(&self) -> QueueRef<'_> {
        QueueRef {
            header: &self.header,
            slots: &self.slots,
        }
    }
}

impl<const N: usize> Default for Queue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for Queue<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.handle().fmt(f)
    }
}

/// Why a queue could not be placed inside a [`SharedMemory`].
#[cfg(not(loom))]
#[derive(Debug)]
pub enum PlaceError {
    /// The offset is misaligned or the queue does not fit.
    Memory(MemoryError),
    /// The capacity is not a power of two from 2 to [`MAX_CAPACITY`].
    Capacity(CapacityError),
}

#[cfg(not(loom))]
impl From<MemoryError> for PlaceError {
    fn from(error: MemoryError) -> Self {
        PlaceError::Memory(error)
    }
}

#[cfg(not(loom))]
impl std::fmt::Display for PlaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceError::Memory(error) => write!(f, "cannot place the queue: {error}"),
            PlaceError::Capacity(error) => write!(f, "cannot place the queue: {error}"),
        }
    }
}

#[cfg(not(loom))]
impl std::error::Error for PlaceError {}

/// The first word of a queue of `capacity` slots at `byte_offset`, with the whole queue checked
/// to be aligned and inside the memory.
#[cfg(not(loom))]
fn checked_words(
    memory: &SharedMemory,
    byte_offset: usize,
    capacity: u32,
) -> Result<*const AtomicI32, MemoryError> {
    let size = QueueRef::size_for(capacity);
    let first = memory.atomic_i32(byte_offset)?;
    memory.atomic_i32(byte_offset.saturating_add(size - 4))?;
    Ok(first as *const std::sync::atomic::AtomicI32)
}

impl<'a> QueueRef<'a> {
    /// Bytes needed by a queue of `capacity` slots placed in memory.
    pub const fn size_for(capacity: u32) -> usize {
        (HEADER_WORDS + 2 * capacity as usize) * 4
    }

    /// Writes an empty queue of `capacity` slots at `ptr` and returns it.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - [`size_for(capacity)`](Self::size_for) bytes from `ptr` are valid for atomic reads and
    ///   writes for `'a`, only accessed atomically during `'a`, and nobody uses them as a queue
    ///   while this call initialises them.
    ///
    /// # Errors
    /// [`CapacityError`] if `capacity` is not a power of two from 2 to [`MAX_CAPACITY`].
    pub unsafe fn init(ptr: *const AtomicI32, capacity: u32) -> Result<Self, CapacityError> {
        if !valid_capacity(capacity) {
            return Err(CapacityError(capacity.into()));
        }
        let words = HEADER_WORDS + 2 * capacity as usize;
        for index in 0..words {
            // SAFETY:
            // - in bounds: `index < words`, covered by the caller's `size_for(capacity)` bytes;
            // - aligned and valid for atomic access for 'a: the caller's contract.
            let word = unsafe { &*ptr.add(index) };
            word.store(
                if index == CAPACITY_WORD {
                    capacity as i32
                } else {
                    0
                },
                Relaxed,
            );
        }
        // SAFETY: the words were just written per the layout, under the caller's contract.
        unsafe { Self::from_ptr(ptr) }
    }

    /// Views an initialised queue at `ptr`, reading its capacity word.
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - the words follow the documented layout (for example written by [`init`](Self::init))
    ///   and `size_for(capacity)` bytes are valid for atomic reads and writes for `'a` and only
    ///   accessed atomically during `'a`.
    ///
    /// # Errors
    /// [`CapacityError`] if the capacity word is not a power of two from 2 to [`MAX_CAPACITY`].
    pub unsafe fn from_ptr(ptr: *const AtomicI32) -> Result<Self, CapacityError> {
        // SAFETY: the header is valid, aligned and live for 'a (caller).
        let capacity = unsafe { &*ptr.cast::<Header>() }.capacity.load(Relaxed);
        if capacity <= 0 || !valid_capacity(capacity as u32) {
            return Err(CapacityError(capacity.into()));
        }
        // SAFETY: the caller's contract, for the capacity just read and checked.
        Ok(unsafe { Self::from_parts(ptr, capacity as u32) })
    }

    /// The queue at `ptr` with `capacity` slots, whatever its capacity word says now (another
    /// agent may rewrite that word; the ring's length is fixed here).
    ///
    /// # Safety
    /// - `ptr` is non-null and aligned to 4 bytes;
    /// - `size_for(capacity)` bytes from `ptr` are valid for atomic reads and writes for `'a`
    ///   and only accessed atomically during `'a`.
    unsafe fn from_parts(ptr: *const AtomicI32, capacity: u32) -> Self {
        // SAFETY: the header is valid, aligned and live for 'a (caller).
        let header = unsafe { &*ptr.cast::<Header>() };
        // SAFETY:
        // - the ring starts right after the header and holds `capacity` slots, all within the
        //   caller's `size_for(capacity)` bytes, aligned (4) and live for 'a;
        // - `Slot` is `repr(C)` of two `AtomicI32`, for which every bit pattern is valid.
        let slots = unsafe {
            std::slice::from_raw_parts(ptr.add(HEADER_WORDS).cast::<Slot>(), capacity as usize)
        };
        QueueRef { header, slots }
    }

    /// Writes an empty queue of `capacity` slots at `byte_offset` inside `memory` and returns it:
    /// [`init`](Self::init) with the bounds and alignment checked.
    ///
    /// ```
    /// use agentsync::memory::SharedMemory;
    /// use agentsync::sync::QueueRef;
    ///
    /// let memory = SharedMemory::new(1, 1).unwrap();
    /// let queue = QueueRef::place_new(&memory, 256, 8).unwrap();
    /// queue.try_send(7).unwrap();
    /// // Any agent can find the same queue at the same offset.
    /// let same = QueueRef::place(&memory, 256).unwrap();
    /// assert_eq!(same.try_recv().unwrap(), 7);
    /// assert!(QueueRef::place_new(&memory, 65_500, 8).is_err()); // does not fit
    /// ```
    ///
    /// # Errors
    /// [`PlaceError::Capacity`] for a capacity that is not a power of two from 2 to
    /// [`MAX_CAPACITY`]; [`PlaceError::Memory`] if misaligned or past the end of the memory.
    #[cfg(not(loom))]
    pub fn place_new(
        memory: &'a SharedMemory,
        byte_offset: usize,
        capacity: u32,
    ) -> Result<Self, PlaceError> {
        if !valid_capacity(capacity) {
            return Err(PlaceError::Capacity(CapacityError(capacity.into())));
        }
        let ptr = checked_words(memory, byte_offset, capacity)?;
        // SAFETY: aligned and `size_for(capacity)` bytes in bounds of memory that never moves or
        // shrinks and outlives 'a, accessed only atomically.
        unsafe { Self::init(ptr, capacity) }.map_err(PlaceError::Capacity)
    }

    /// The queue that [`place_new`](Self::place_new) (or Wasm code following the layout)
    /// wrote at `byte_offset` inside `memory`.
    ///
    /// # Errors
    /// [`PlaceError::Capacity`] if the capacity word is not a valid capacity;
    /// [`PlaceError::Memory`] if misaligned or the queue does not fit in the memory.
    #[cfg(not(loom))]
    pub fn place(memory: &'a SharedMemory, byte_offset: usize) -> Result<Self, PlaceError> {
        let capacity = memory
            .atomic_i32(byte_offset.saturating_add(CAPACITY_WORD * 4))?
            .load(Relaxed);
        if capacity <= 0 || !valid_capacity(capacity as u32) {
            return Err(PlaceError::Capacity(CapacityError(capacity.into())));
        }
        let ptr = checked_words(memory, byte_offset, capacity as u32)?;
        // SAFETY: as in `place_new`, for the capacity read once above.
        Ok(unsafe { Self::from_parts(ptr, capacity as u32) })
    }

    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.header.head.load(Relaxed) & CLOSED != 0
    }

    /// Closes the queue: sends fail from now on, receivers drain what is queued and then see
    /// `Closed`. Wakes every sleeper. Returns `false` if it was already closed.
    pub fn close(&self) -> bool {
        // Acquire/Release: sequenced with every claim of `head` (same word).
        if self.header.head.fetch_or(CLOSED, Release) & CLOSED != 0 {
            return false;
        }
        self.header.sent.fetch_add(1, Release);
        self.header.received.fetch_add(1, Release);
        futex::notify(&self.header.sent, usize::MAX);
        futex::notify(&self.header.received, usize::MAX);
        true
    }

    /// Sends `value` if a slot is free. Never waits: on words another agent left outside the
    /// protocol it answers `Full` rather than spin.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], handing `value` back.
    pub fn try_send(&self, value: i32) -> Result<(), TrySendError> {
        let mask = self.slots.len() as u32 - 1;
        let mut head = self.header.head.load(Relaxed);
        loop {
            if head & CLOSED != 0 {
                return Err(TrySendError::Closed(value));
            }
            let position = head as u32;
            let index = position & mask;
            let slot = &self.slots[index as usize];
            // Acquire: pairs with the Release store of the receiver that freed the slot.
            let turn = (slot.sequence.load(Acquire) as u32).wrapping_add(index) & POSITION;
            let lag = distance(turn, position);
            if lag == 0 {
                let next = (position.wrapping_add(1) & POSITION) as i32;
                match self
                    .header
                    .head
                    // Acquire: pairs with a would-be sleeper's `read_claims` of `head`.
                    .compare_exchange_weak(head, next, Acquire, Relaxed)
                {
                    Ok(_) => {
                        slot.value.store(value, Relaxed);
                        let full = position.wrapping_add(1).wrapping_sub(index) & POSITION;
                        // Release: pairs with the receiver's Acquire load of the sequence.
                        slot.sequence.store(full as i32, Release);
                        wake_one(&self.header.receivers_waiting, &self.header.sent);
                        return Ok(());
                    }
                    Err(now) => head = now,
                }
            } else if lag < 0 {
                return Err(TrySendError::Full(value));
            } else {
                // The slot is ahead: another sender claimed this position, and its claim
                // happens-before the sequence we just read, so `head` has moved on. If it has
                // not, the words break the protocol (another agent wrote them): answer rather
                // than wait for a claim that will never come.
                let now = self.header.head.load(Relaxed);
                if now == head {
                    return Err(TrySendError::Full(value));
                }
                head = now;
            }
        }
    }

    /// Receives the oldest value, if any. Never waits: on words another agent left outside the
    /// protocol it answers `Empty` (or `Closed`) rather than spin.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once closed and drained.
    pub fn try_recv(&self) -> Result<i32, TryRecvError> {
        let mask = self.slots.len() as u32 - 1;
        let capacity = self.slots.len() as u32;
        let mut tail = self.header.tail.load(Relaxed);
        loop {
            let position = tail as u32;
            let index = position & mask;
            let slot = &self.slots[index as usize];
            // Acquire: pairs with the sender's Release store of the sequence.
            let turn = (slot.sequence.load(Acquire) as u32).wrapping_add(index) & POSITION;
            let lag = distance(turn, position.wrapping_add(1) & POSITION);
            if lag == 0 {
                let next = (position.wrapping_add(1) & POSITION) as i32;
                match self
                    .header
                    .tail
                    // Acquire: pairs with a would-be sleeper's `read_claims` of `tail`.
                    .compare_exchange_weak(tail, next, Acquire, Relaxed)
                {
                    Ok(_) => {
                        let value = slot.value.load(Relaxed);
                        let free = position.wrapping_add(capacity).wrapping_sub(index) & POSITION;
                        // Release: pairs with the next sender's Acquire load of the sequence.
                        slot.sequence.store(free as i32, Release);
                        wake_one(&self.header.senders_waiting, &self.header.received);
                        return Ok(value);
                    }
                    Err(now) => {
                        tail = now;
                        continue;
                    }
                }
            } else if lag > 0 {
                // The slot is ahead: another receiver claimed this position, so `tail` has
                // moved on (as in `try_send`). If it has not, the words break the protocol:
                // answer below rather than wait for a claim that will never come.
                let now = self.header.tail.load(Relaxed);
                if now != tail {
                    tail = now;
                    continue;
                }
            }
            // Acquire: pairs with `close`; every claim before it is visible in `head`.
            let head = self.header.head.load(Acquire);
            let drained = (head as u32 & POSITION) == position;
            if head & CLOSED != 0 && drained {
                return Err(TryRecvError::Closed);
            }
            return Err(TryRecvError::Empty);
        }
    }

    /// Sends `value`, blocking while the queue is full.
    ///
    /// # Blocking
    /// Sleeps until a receive frees a slot or the queue closes.
    ///
    /// # Errors
    /// [`SendError::Closed`] or [`SendError::CannotBlock`], handing `value` back.
    pub fn send(&self, value: i32) -> Result<(), SendError> {
        self.send_until(value, None)
    }

    /// [`send`](Self::send) waiting at most `timeout`.
    ///
    /// # Blocking
    /// As [`send`](Self::send), up to `timeout`.
    ///
    /// # Errors
    /// [`SendError::Closed`], [`SendError::TimedOut`] or [`SendError::CannotBlock`], handing
    /// `value` back.
    pub fn send_timeout(&self, value: i32, timeout: Duration) -> Result<(), SendError> {
        self.send_until(value, core::deadline_after(timeout))
    }

    fn send_until(
        &self,
        value: i32,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), SendError> {
        match core::block(self.send_op(value), deadline) {
            Ok(sent) => sent,
            Err(Unfinished::TimedOut(op)) => Err(SendError::TimedOut(op.value)),
            Err(Unfinished::CannotBlock(op)) => Err(SendError::CannotBlock(op.value)),
        }
    }

    /// Sends from an async task, sleeping while the queue is full.
    ///
    /// # Errors
    /// [`SendError::Closed`] with the value.
    ///
    /// # Cancel safety
    /// Cancel-safe: a send is one atomic step, so a dropped future either sent the value
    /// (and resolved) or did not; a wake-up it had received is passed on.
    pub fn send_async(
        &self,
        value: i32,
    ) -> impl Future<Output = Result<(), SendError>> + Send + 'a {
        self.send_async_until(value, None)
    }

    /// [`send_async`](Self::send_async) giving up after `timeout`.
    ///
    /// # Errors
    /// [`SendError::Closed`] or [`SendError::TimedOut`] with the value.
    ///
    /// # Cancel safety
    /// As [`send_async`](Self::send_async).
    pub fn send_async_timeout(
        &self,
        value: i32,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SendError>> + Send + 'a {
        self.send_async_until(value, core::deadline_after(timeout))
    }

    fn send_async_until(
        &self,
        value: i32,
        deadline: Option<std::time::Instant>,
    ) -> impl Future<Output = Result<(), SendError>> + Send + 'a {
        let op = self.send_op(value);
        async move {
            match core::Acquire::new(op, deadline).await {
                Ok(sent) => sent,
                Err(op) => Err(SendError::TimedOut(op.value)),
            }
        }
    }

    /// Receives, blocking while the queue is empty.
    ///
    /// # Blocking
    /// Sleeps until a send or the close.
    ///
    /// # Errors
    /// [`RecvError::Closed`] once closed and drained, or [`RecvError::CannotBlock`].
    pub fn recv(&self) -> Result<i32, RecvError> {
        self.recv_until(None)
    }

    /// [`recv`](Self::recv) waiting at most `timeout`.
    ///
    /// # Blocking
    /// As [`recv`](Self::recv), up to `timeout`.
    ///
    /// # Errors
    /// [`RecvError::Closed`], [`RecvError::TimedOut`] or [`RecvError::CannotBlock`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<i32, RecvError> {
        self.recv_until(core::deadline_after(timeout))
    }

    fn recv_until(&self, deadline: Option<std::time::Instant>) -> Result<i32, RecvError> {
        match core::block(self.recv_op(), deadline) {
            Ok(received) => received,
            Err(Unfinished::TimedOut(_)) => Err(RecvError::TimedOut),
            Err(Unfinished::CannotBlock(_)) => Err(RecvError::CannotBlock),
        }
    }

    /// Receives from an async task, sleeping while the queue is empty.
    ///
    /// # Errors
    /// [`RecvError::Closed`] once closed and drained.
    ///
    /// # Cancel safety
    /// Cancel-safe: a receive is one atomic step, so a dropped future took no value; a wake-up
    /// it had received is passed on.
    pub fn recv_async(&self) -> impl Future<Output = Result<i32, RecvError>> + Send + 'a {
        self.recv_async_until(None)
    }

    /// [`recv_async`](Self::recv_async) giving up after `timeout`.
    ///
    /// # Errors
    /// [`RecvError::Closed`] or [`RecvError::TimedOut`].
    ///
    /// # Cancel safety
    /// As [`recv_async`](Self::recv_async).
    pub fn recv_async_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<i32, RecvError>> + Send + 'a {
        self.recv_async_until(core::deadline_after(timeout))
    }

    fn recv_async_until(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> impl Future<Output = Result<i32, RecvError>> + Send + 'a {
        let op = self.recv_op();
        async move {
            match core::Acquire::new(op, deadline).await {
                Ok(received) => received,
                Err(_) => Err(RecvError::TimedOut),
            }
        }
    }
}

impl<'a> QueueRef<'a> {
    fn send_op(&self, value: i32) -> SendOp<'a> {
        SendOp {
            queue: *self,
            value,
            registered: false,
            backoff: Backoff::new(),
        }
    }

    fn recv_op(&self) -> RecvOp<'a> {
        RecvOp {
            queue: *self,
            registered: false,
            backoff: Backoff::new(),
        }
    }
}

impl fmt::Debug for QueueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueRef")
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// One send, holding the value until it is in the ring or handed back.
struct SendOp<'a> {
    queue: QueueRef<'a>,
    value: i32,
    /// Counted in `senders_waiting` (undone on drop).
    registered: bool,
    /// Backs off while the ring is full, before registering to sleep.
    backoff: Backoff,
}

impl Attempt for SendOp<'_> {
    type Output = Result<(), SendError>;

    fn attempt(&mut self) -> Step<'_, Self::Output> {
        let header = self.queue.header;
        loop {
            // Once registered (about to sleep), read the wake word before the try, so that a
            // receive after the try changes it. Not before: it sits on the receivers' cache
            // line, and reading it on every send would pull that line away from them.
            // Acquire: pairs with the Release bump in `wake_one_contended`.
            let seen = self.registered.then(|| header.received.load(Acquire));
            match self.queue.try_send(self.value) {
                Ok(()) => return Step::Done(Ok(())),
                Err(TrySendError::Closed(value)) => {
                    return Step::Done(Err(SendError::Closed(value)))
                }
                Err(TrySendError::Full(_)) => match seen {
                    None => {
                        match back_off_or_register(&mut self.backoff, &header.senders_waiting) {
                            Round::Spun => {}
                            Round::Yield => return Step::Snooze,
                            Round::Done => self.registered = true,
                        }
                    }
                    Some(seen) => {
                        // Sleep only if the ring is full by the claims: a receive that claimed
                        // a slot but has not freed it yet may already have looked for sleepers.
                        let tail = read_claims(&header.tail) as u32;
                        let head = header.head.load(Relaxed) as u32 & POSITION;
                        let capacity = self.queue.slots.len() as u32;
                        if head.wrapping_sub(tail) & POSITION != capacity {
                            return Step::Snooze;
                        }
                        return Step::Sleep {
                            word: &header.received,
                            expected: seen,
                        };
                    }
                },
            }
        }
    }
}

impl Drop for SendOp<'_> {
    fn drop(&mut self) {
        if self.registered {
            self.queue.header.senders_waiting.fetch_sub(1, Relaxed);
        }
    }
}

/// One receive.
struct RecvOp<'a> {
    queue: QueueRef<'a>,
    /// Counted in `receivers_waiting` (undone on drop).
    registered: bool,
    /// Backs off while the ring is empty, before registering to sleep.
    backoff: Backoff,
}

impl Attempt for RecvOp<'_> {
    type Output = Result<i32, RecvError>;

    fn attempt(&mut self) -> Step<'_, Self::Output> {
        let header = self.queue.header;
        loop {
            // As in `SendOp`: the wake word is read only once registered.
            let seen = self.registered.then(|| header.sent.load(Acquire));
            match self.queue.try_recv() {
                Ok(value) => return Step::Done(Ok(value)),
                Err(TryRecvError::Closed) => return Step::Done(Err(RecvError::Closed)),
                Err(TryRecvError::Empty) => match seen {
                    None => {
                        match back_off_or_register(&mut self.backoff, &header.receivers_waiting) {
                            Round::Spun => {}
                            Round::Yield => return Step::Snooze,
                            Round::Done => self.registered = true,
                        }
                    }
                    Some(seen) => {
                        // Sleep only if the ring is empty by the claims: a send that claimed a
                        // slot but has not filled it yet may already have looked for sleepers.
                        // (A close also keeps us awake: the next try reports it.)
                        let head = read_claims(&header.head);
                        let tail = header.tail.load(Relaxed);
                        if head & CLOSED != 0 || (head as u32 & POSITION) != tail as u32 {
                            return Step::Snooze;
                        }
                        return Step::Sleep {
                            word: &header.sent,
                            expected: seen,
                        };
                    }
                },
            }
        }
    }
}

impl Drop for RecvOp<'_> {
    fn drop(&mut self) {
        if self.registered {
            self.queue.header.receivers_waiting.fetch_sub(1, Relaxed);
        }
    }
}

;; A lock shared by Wasm threads and host threads, in two flavours.
;;
;; Memory layout (byte addresses in the imported shared memory):
;;   0  spin lock word        0 = free, 1 = held
;;   4  counter guarded by the spin lock
;;   8  parking lock word     0 = free, 1 = held, 2 = held with (maybe) sleepers
;;  12  counter guarded by the parking lock
;;  16  waits that returned 0 ("ok")     (statistics for the notify invariant)
;;  20  sum of what notify returned       (statistics for the notify invariant)
;;  24  start line: parties that reached the parking phase
;;
;; The host runs the very same protocols on the same words (see `demo.rs`), so a guest's
;; memory.atomic.notify can wake a host thread sleeping on word 8 and the other way round.
(module
  (import "env" "memory" (memory 1 1 shared))

  ;; Spin lock: retry the compare-exchange 0 -> 1 until it sees 0.
  (func $lock (export "lock") (param $addr i32)
    (loop $retry
      (br_if $retry
        (i32.atomic.rmw.cmpxchg (local.get $addr) (i32.const 0) (i32.const 1)))))

  (func $unlock (export "unlock") (param $addr i32)
    (i32.atomic.store (local.get $addr) (i32.const 0)))

  ;; Parking lock: 0 -> 1 on the fast path; otherwise mark the word 2 and sleep while it
  ;; stays 2, retrying with an exchange to 2 after every wake-up.
  (func $park_lock (export "park_lock") (param $addr i32)
    (local $seen i32)
    (local.set $seen
      (i32.atomic.rmw.cmpxchg (local.get $addr) (i32.const 0) (i32.const 1)))
    (if (i32.eqz (local.get $seen)) (then (return)))
    (if (i32.ne (local.get $seen) (i32.const 2))
      (then (local.set $seen (i32.atomic.rmw.xchg (local.get $addr) (i32.const 2)))))
    (block $acquired
      (loop $sleep
        (br_if $acquired (i32.eqz (local.get $seen)))
        (if (i32.eqz (memory.atomic.wait32 (local.get $addr) (i32.const 2) (i64.const -1)))
          (then (drop (i32.atomic.rmw.add (i32.const 16) (i32.const 1)))))
        (local.set $seen (i32.atomic.rmw.xchg (local.get $addr) (i32.const 2)))
        (br $sleep))))

  ;; Release; if someone may be asleep (the word was 2), wake one of them.
  (func $park_unlock (export "park_unlock") (param $addr i32)
    (if (i32.eq (i32.atomic.rmw.xchg (local.get $addr) (i32.const 0)) (i32.const 2))
      (then
        (drop (i32.atomic.rmw.add (i32.const 20)
          (memory.atomic.notify (local.get $addr) (i32.const 1)))))))

  ;; $n times: take the spin lock, bump the counter at 4 with plain (non-atomic) accesses.
  (func (export "increment") (param $n i32)
    (loop $again
      (if (local.get $n)
        (then
          (call $lock (i32.const 0))
          (i32.store (i32.const 4) (i32.add (i32.load (i32.const 4)) (i32.const 1)))
          (call $unlock (i32.const 0))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $again)))))

  ;; Arrive at the start line and spin until $total parties have, so the parking phase
  ;; really is contended.
  (func (export "start_line") (param $total i32)
    (drop (i32.atomic.rmw.add (i32.const 24) (i32.const 1)))
    (loop $spin
      (br_if $spin (i32.lt_u (i32.atomic.load (i32.const 24)) (local.get $total)))))

  ;; $n times: take the parking lock, bump the counter at 12 with plain accesses, and stay a
  ;; little while in the critical section so that others find the lock held.
  (func (export "increment_parking") (param $n i32)
    (local $work i32)
    (loop $again
      (if (local.get $n)
        (then
          (call $park_lock (i32.const 8))
          (i32.store (i32.const 12) (i32.add (i32.load (i32.const 12)) (i32.const 1)))
          (local.set $work (i32.const 200))
          (loop $busy
            (local.set $work (i32.sub (local.get $work) (i32.const 1)))
            (br_if $busy (local.get $work)))
          (call $park_unlock (i32.const 8))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $again)))))
)

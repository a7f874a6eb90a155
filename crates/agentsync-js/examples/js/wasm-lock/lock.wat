;; lock.wat: the guide's locks in WebAssembly text, for lock.js (which also takes the parking
;; lock from JavaScript with Atomics.waitAsync, on the same word).
;;
;; Byte addresses in the imported shared memory:
;;    0  parking lock word   0 free, 1 held, 2 held and someone may be asleep
;;    4  counter guarded by the parking lock (workers and the main agent)
;;    8  spin lock word      0 free, 1 held
;;   12  counter guarded by the spin lock (workers only)
(module
  (import "env" "memory" (memory 1 1 shared))

  ;; Compare-exchange lock: try 0 -> 1 until the word was 0.
  (func $lock (export "lock") (param $at i32)
    (loop $again
      (br_if $again
        (i32.atomic.rmw.cmpxchg (local.get $at) (i32.const 0) (i32.const 1)))))

  (func $unlock (export "unlock") (param $at i32)
    (i32.atomic.store (local.get $at) (i32.const 0)))

  ;; Parking variant: 0 -> 1 when free; otherwise announce a sleeper (2) and sleep in
  ;; memory.atomic.wait32 while the word is 2, swapping in 2 again after each wake-up.
  (func $park_lock (export "park_lock") (param $at i32)
    (local $was i32)
    (local.set $was
      (i32.atomic.rmw.cmpxchg (local.get $at) (i32.const 0) (i32.const 1)))
    (if (i32.eqz (local.get $was)) (then (return)))
    (if (i32.ne (local.get $was) (i32.const 2))
      (then (local.set $was (i32.atomic.rmw.xchg (local.get $at) (i32.const 2)))))
    (block $mine
      (loop $sleep
        (br_if $mine (i32.eqz (local.get $was)))
        (drop (memory.atomic.wait32 (local.get $at) (i32.const 2) (i64.const -1)))
        (local.set $was (i32.atomic.rmw.xchg (local.get $at) (i32.const 2)))
        (br $sleep))))

  ;; Release; wake one sleeper only if the word said there may be one.
  (func $park_unlock (export "park_unlock") (param $at i32)
    (if (i32.eq (i32.atomic.rmw.xchg (local.get $at) (i32.const 0)) (i32.const 2))
      (then (drop (memory.atomic.notify (local.get $at) (i32.const 1))))))

  ;; $n times, under the spin lock: counter at 12 += 1 with plain loads and stores.
  (func (export "count_spin") (param $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (call $lock (i32.const 8))
        (i32.store (i32.const 12) (i32.add (i32.load (i32.const 12)) (i32.const 1)))
        (call $unlock (i32.const 8))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))

  ;; $n times, under the parking lock: counter at 4 += 1 with plain loads and stores.
  (func (export "count_parking") (param $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (call $park_lock (i32.const 0))
        (i32.store (i32.const 4) (i32.add (i32.load (i32.const 4)) (i32.const 1)))
        (call $park_unlock (i32.const 0))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))))

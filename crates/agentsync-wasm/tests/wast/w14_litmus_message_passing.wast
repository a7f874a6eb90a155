;; W14 litmus: message passing
;; 4096 trials per run, each on its own pair of cells. Before every trial both threads meet at
;; a barrier (word 0 counts arrivals; spin briefly, then sleep with memory.atomic.wait32 and
;; let the last arriver notify), so the two threads really race on every trial.
;; Layout: x[i] at 65536+4i, y[i] at 131072+4i, register a[i] at 196608+4i, register b[i] at
;; 262144+4i (registers stored as value + 1, 0 = not written).
;; Forbidden under sequential consistency: the flag seen set (a = 1) but the data not (b = 0).

(module $Mem
  (memory (export "shared") 5 5 shared))

(thread $T1 (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 5 5 shared)
    ;; Arrive for trial $i (byte index) and wait until both threads have.
    (func $meet (param $i i32)
      (local $target i32) (local $seen i32) (local $spins i32)
      (local.set $target (i32.add (i32.shr_u (local.get $i) (i32.const 1)) (i32.const 2)))
      (if (i32.eq (i32.add (i32.atomic.rmw.add (i32.const 0) (i32.const 1)) (i32.const 1))
                  (local.get $target))
        (then (drop (memory.atomic.notify (i32.const 0) (i32.const -1))) (return)))
      (loop $spin
        (local.set $seen (i32.atomic.load (i32.const 0)))
        (if (i32.lt_s (i32.sub (local.get $seen) (local.get $target)) (i32.const 0))
          (then
            (local.set $spins (i32.add (local.get $spins) (i32.const 1)))
            (if (i32.gt_u (local.get $spins) (i32.const 4096))
              (then (drop (memory.atomic.wait32 (i32.const 0) (local.get $seen) (i64.const 100000)))))
            (br $spin)))))
    (func (export "run")
      (local $i i32) (local $r i32)
      (loop $trial
        (call $meet (local.get $i))
        (i32.atomic.store offset=65536 (local.get $i) (i32.const 1))
        (i32.atomic.store offset=131072 (local.get $i) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $trial (i32.lt_u (local.get $i) (i32.const 16384))))))
  (invoke "run"))

(thread $T2 (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 5 5 shared)
    ;; Arrive for trial $i (byte index) and wait until both threads have.
    (func $meet (param $i i32)
      (local $target i32) (local $seen i32) (local $spins i32)
      (local.set $target (i32.add (i32.shr_u (local.get $i) (i32.const 1)) (i32.const 2)))
      (if (i32.eq (i32.add (i32.atomic.rmw.add (i32.const 0) (i32.const 1)) (i32.const 1))
                  (local.get $target))
        (then (drop (memory.atomic.notify (i32.const 0) (i32.const -1))) (return)))
      (loop $spin
        (local.set $seen (i32.atomic.load (i32.const 0)))
        (if (i32.lt_s (i32.sub (local.get $seen) (local.get $target)) (i32.const 0))
          (then
            (local.set $spins (i32.add (local.get $spins) (i32.const 1)))
            (if (i32.gt_u (local.get $spins) (i32.const 4096))
              (then (drop (memory.atomic.wait32 (i32.const 0) (local.get $seen) (i64.const 100000)))))
            (br $spin)))))
    (func (export "run")
      (local $i i32) (local $r i32)
      (loop $trial
        (call $meet (local.get $i))
        (local.set $r (i32.atomic.load offset=131072 (local.get $i)))
        (i32.store offset=262144 (local.get $i) (i32.add (i32.const 1) (i32.atomic.load offset=65536 (local.get $i))))
        (i32.store offset=196608 (local.get $i) (i32.add (i32.const 1) (local.get $r)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $trial (i32.lt_u (local.get $i) (i32.const 16384))))))
  (invoke "run"))

(wait $T1)
(wait $T2)

(register "mem" $Mem)
(module $Check
  (memory (import "mem" "shared") 5 5 shared)
  ;; Trials whose registers were (a, b).
  (func (export "count") (param $a i32) (param $b i32) (result i32)
    (local $i i32) (local $n i32)
    (loop $each
      (if (i32.and
            (i32.eq (i32.load offset=196608 (local.get $i)) (i32.add (local.get $a) (i32.const 1)))
            (i32.eq (i32.load offset=262144 (local.get $i)) (i32.add (local.get $b) (i32.const 1))))
        (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $each (i32.lt_u (local.get $i) (i32.const 16384))))
    (local.get $n))
  ;; Trials whose two registers were both written.
  (func (export "written") (result i32)
    (local $i i32) (local $n i32)
    (loop $each
      (if (i32.and (i32.ne (i32.load offset=196608 (local.get $i)) (i32.const 0))
                   (i32.ne (i32.load offset=262144 (local.get $i)) (i32.const 0)))
        (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $each (i32.lt_u (local.get $i) (i32.const 16384))))
    (local.get $n)))

(assert_return (invoke $Check "written") (i32.const 4096))
(assert_return (invoke $Check "count" (i32.const 1) (i32.const 0)) (i32.const 0))

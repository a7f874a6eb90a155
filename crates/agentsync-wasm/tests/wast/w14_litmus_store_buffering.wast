;; W14 litmus: store buffering
;; 16384 trials per run, each on its own pair of cells; two threads started together by a
;; barrier on word 0. Layout: x[i] at 65536+4i, y[i] at 131072+4i, register a[i] at
;; 196608+4i, register b[i] at 262144+4i (registers stored as value + 1, 0 = not written).
;; Forbidden under sequential consistency: both loads miss the other thread's store (a = 0, b = 0).

(module $Mem
  (memory (export "shared") 5 5 shared))

(thread $T1 (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 5 5 shared)
    (func (export "run")
      (local $i i32) (local $r i32)
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
    (loop $wait (br_if $wait (i32.lt_u (i32.atomic.load (i32.const 0)) (i32.const 2))))
      (loop $trial
        (i32.atomic.store offset=65536 (local.get $i) (i32.const 1))
        (i32.store offset=196608 (local.get $i) (i32.add (i32.const 1) (i32.atomic.load offset=131072 (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $trial (i32.lt_u (local.get $i) (i32.const 65536))))))
  (invoke "run"))

(thread $T2 (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 5 5 shared)
    (func (export "run")
      (local $i i32) (local $r i32)
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
    (loop $wait (br_if $wait (i32.lt_u (i32.atomic.load (i32.const 0)) (i32.const 2))))
      (loop $trial
        (i32.atomic.store offset=131072 (local.get $i) (i32.const 1))
        (i32.store offset=262144 (local.get $i) (i32.add (i32.const 1) (i32.atomic.load offset=65536 (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $trial (i32.lt_u (local.get $i) (i32.const 65536))))))
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
      (br_if $each (i32.lt_u (local.get $i) (i32.const 65536))))
    (local.get $n))
  ;; Trials whose two registers were both written.
  (func (export "written") (result i32)
    (local $i i32) (local $n i32)
    (loop $each
      (if (i32.and (i32.ne (i32.load offset=196608 (local.get $i)) (i32.const 0))
                   (i32.ne (i32.load offset=262144 (local.get $i)) (i32.const 0)))
        (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $each (i32.lt_u (local.get $i) (i32.const 65536))))
    (local.get $n)))

(assert_return (invoke $Check "written") (i32.const 16384))
(assert_return (invoke $Check "count" (i32.const 0) (i32.const 0)) (i32.const 0))

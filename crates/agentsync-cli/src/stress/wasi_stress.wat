;; The wasi stress program: `_start` spawns 3 threads that wait on word 0 (whose value never
;; changes, so each wait ends `ok` by a notify or `timed-out`), counting their `ok`s in word 8,
;; while `_start` notifies word 0 one waiter at a time, adding what each notify returned to
;; word 12. The host sets the plan before the run starts:
;;   word 20: 0 to end by returning; n > 0: thread 1 calls proc_exit(n) once `_start` is
;;            halfway through its notifies (it checks before the stop flag, so it always does)
;;   word 24: how many notifies `_start` makes
;; Other words: 4 stop flag, 16 threads that have left, 32 notifies made so far.
;; Ending by return, `_start` raises the stop flag and notifies everyone until all 3 threads
;; have left: then every wake-up a notify reported was taken by an `ok` wait (word 12 = word
;; 8 plus the host's own `ok`s on the same word).
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (export "memory" (memory 0))
  (func (export "_start") (local $i i32)
    (if (i32.lt_s (call $spawn (i32.const 0)) (i32.const 0)) (then (call $exit (i32.const 99))))
    (if (i32.lt_s (call $spawn (i32.const 0)) (i32.const 0)) (then (call $exit (i32.const 99))))
    (if (i32.lt_s (call $spawn (i32.const 0)) (i32.const 0)) (then (call $exit (i32.const 99))))
    (loop $notify
      (drop (i32.atomic.rmw.add (i32.const 12)
        (memory.atomic.notify (i32.const 0) (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (i32.atomic.store (i32.const 32) (local.get $i))
      (br_if $notify (i32.lt_u (local.get $i) (i32.atomic.load (i32.const 24)))))
    (i32.atomic.store (i32.const 4) (i32.const 1))
    (loop $drain
      (drop (i32.atomic.rmw.add (i32.const 12)
        (memory.atomic.notify (i32.const 0) (i32.const -1))))
      (br_if $drain (i32.lt_u (i32.atomic.load (i32.const 16)) (i32.const 3)))))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (block $done
      (loop $wait
        ;; The exit plan: thread 1 exits once `_start` is halfway.
        (if (i32.and
              (i32.and (i32.eq (local.get $tid) (i32.const 1))
                       (i32.ne (i32.atomic.load (i32.const 20)) (i32.const 0)))
              (i32.gt_u (i32.mul (i32.atomic.load (i32.const 32)) (i32.const 2))
                        (i32.atomic.load (i32.const 24))))
          (then (call $exit (i32.atomic.load (i32.const 20)))))
        (br_if $done (i32.atomic.load (i32.const 4)))
        ;; Wait up to 1 ms.
        (if (i32.eqz (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 1000000)))
          (then (drop (i32.atomic.rmw.add (i32.const 8) (i32.const 1)))))
        (br $wait)))
    (drop (i32.atomic.rmw.add (i32.const 16) (i32.const 1)))))

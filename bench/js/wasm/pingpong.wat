;; pingpong.wat: the Wasm guest of wasm_main_guest_pingpong.js and wasm_guest_pingpong.js.
;; Its binary, pingpong.wasm, is committed next to it (both hosts load the same bytes with
;; `readbuffer('wasm/pingpong.wasm')`); a unit test of agentsync-cli checks that it is this text
;; compiled, and rewrites it when run with AGENTSYNC_BLESS_WASM=1.
;;
;; The shared memory (imported as env.memory) holds three i32 words:
;;   address 0  TURN   whose turn: 0 the pinger's, 1 the ponger's
;;   address 4  READY  set by the ponger's agent before it plays (used by the JS side only)
;;   address 8  FLIPS  how many times the turn was handed over, by either side
;; After COUNT round trips TURN is 0 again and FLIPS is 2 * COUNT.
(module
  (import "env" "memory" (memory 1 1 shared))

  ;; Sleeps in memory.atomic.wait32 while TURN is $turn. Its own function, with nothing live
  ;; after the wait: Node.js 20 (V8 11.3) lost the caller's loop locals ($count, the turns
  ;; played) across a memory.atomic.wait32 written inline in the loop, so the loops never ended
  ;; there; live across a call, they are kept.
  (func $sleep_while (param $turn i32)
    (drop (memory.atomic.wait32 (i32.const 0) (local.get $turn) (i64.const -1))))

  ;; The ponger: $count times, sleeps until TURN is 1, counts the flip,
  ;; sets TURN to 0 and wakes one waiter. Returns the turns played.
  (func (export "pong") (param $count i32) (result i32)
    (local $played i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $played) (local.get $count)))
        (block $mine_now
          (loop $again
            (br_if $mine_now (i32.eq (i32.atomic.load (i32.const 0)) (i32.const 1)))
            (call $sleep_while (i32.const 0))
            (br $again)))
        (drop (i32.atomic.rmw.add (i32.const 8) (i32.const 1)))
        (i32.atomic.store (i32.const 0) (i32.const 0))
        (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
        (local.set $played (i32.add (local.get $played) (i32.const 1)))
        (br $next)))
    (local.get $played))

  ;; The pinger: $count times, counts the flip, sets TURN to 1, wakes one waiter and sleeps
  ;; until TURN is 0 again. Returns the round trips made.
  (func (export "ping") (param $count i32) (result i32)
    (local $made i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $made) (local.get $count)))
        (drop (i32.atomic.rmw.add (i32.const 8) (i32.const 1)))
        (i32.atomic.store (i32.const 0) (i32.const 1))
        (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
        (block $mine_now
          (loop $again
            (br_if $mine_now (i32.eq (i32.atomic.load (i32.const 0)) (i32.const 0)))
            (call $sleep_while (i32.const 1))
            (br $again)))
        (local.set $made (i32.add (local.get $made) (i32.const 1)))
        (br $next)))
    (local.get $made)))

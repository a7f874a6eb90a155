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

  ;; Sleeps in memory.atomic.wait32 until TURN is $mine.
  (func $await_turn (param $mine i32)
    (block $mine_now
      (loop $again
        (br_if $mine_now
          (i32.eq (i32.atomic.load (i32.const 0)) (local.get $mine)))
        (drop
          (memory.atomic.wait32
            (i32.const 0)
            (i32.sub (i32.const 1) (local.get $mine))
            (i64.const -1)))
        (br $again))))

  ;; Counts the flip, gives TURN to $other and wakes one waiter on it.
  (func $hand_over (param $other i32)
    (drop (i32.atomic.rmw.add (i32.const 8) (i32.const 1)))
    (i32.atomic.store (i32.const 0) (local.get $other))
    (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))

  ;; The ponger: $count times, waits for its turn and hands it back. Returns the turns played.
  (func (export "pong") (param $count i32) (result i32)
    (local $played i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $played) (local.get $count)))
        (call $await_turn (i32.const 1))
        (call $hand_over (i32.const 0))
        (local.set $played (i32.add (local.get $played) (i32.const 1)))
        (br $next)))
    (local.get $played))

  ;; The pinger: $count times, hands the turn over and waits for it to come back. Returns the
  ;; round trips made.
  (func (export "ping") (param $count i32) (result i32)
    (local $made i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $made) (local.get $count)))
        (call $hand_over (i32.const 1))
        (call $await_turn (i32.const 0))
        (local.set $made (i32.add (local.get $made) (i32.const 1)))
        (br $next)))
    (local.get $made)))

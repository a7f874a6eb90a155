;; What the threads-proposal profile changes, in our own words: that spec version is
;; WebAssembly 2.0 plus threads. Under it every directive here passes; under the current
;; profile the four marked "version" fail, because later proposals made those modules valid.

;; version: one memory per module (multi-memory came later).
(assert_invalid (module (memory 1) (memory 1)) "multiple memories")

;; version: a constant expression may read imported globals only (extended constants and
;; GC later allowed any earlier global).
(assert_invalid
  (module (global $g i32 (i32.const 4)) (memory 1) (data (global.get $g) "x"))
  "unknown global")

;; version: the reserved byte of memory.size is one zero byte, not a memory index in LEB128.
(assert_malformed
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\05\01\60\00\01\7f"      ;; types: () -> i32
    "\03\02\01\00"               ;; one function of type 0
    "\05\03\01\00\01"            ;; one memory, minimum 1
    "\0a\07\01"                  ;; code: one body
    "\05\00"                     ;; 5 bytes, no locals
    "\3f\80\00"                  ;; memory.size, reserved byte as a 2-byte LEB128 zero
    "\0b")                       ;; end
  "zero byte expected")

;; version: memory limits are u32 LEB128s of at most 5 bytes (memory64 came later).
(assert_malformed
  (module binary
    "\00asm" "\01\00\00\00"
    "\05\08\01"                  ;; one memory
    "\00\81\80\80\80\80\00")     ;; no maximum, minimum 1 in 6 bytes
  "integer representation too long")

;; Reference types and SIMD values cross the script boundary.
(module
  (func (export "same_ref") (param externref) (result externref) (local.get 0))
  (func (export "is_null") (param externref) (result i32) (ref.is_null (local.get 0)))
  (func (export "swap_halves") (param v128) (result v128)
    (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get 0) (local.get 0))))
(assert_return (invoke "same_ref" (ref.extern 7)) (ref.extern 7))
(assert_return (invoke "same_ref" (ref.null extern)) (ref.null extern))
(assert_return (invoke "is_null" (ref.extern 7)) (i32.const 0))
(assert_return (invoke "swap_halves" (v128.const i64x2 1 2)) (v128.const i64x2 2 1))
(assert_return (invoke "swap_halves" (v128.const i32x4 1 2 3 4)) (v128.const i32x4 3 4 1 2))

;; Threads: a shared memory seen by a second thread.
(module $Mem (memory (export "shared") 1 1 shared))
(thread $T (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "store") (i32.atomic.store (i32.const 0) (i32.const 42))))
  (invoke "store"))
(wait $T)
(module
  (memory (import "spectest" "shared_memory") 1 2 shared)
  (func (export "load") (result i32) (i32.atomic.load (i32.const 0))))
(assert_return (invoke "load") (i32.const 0))

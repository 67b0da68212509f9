;; alibi SIMD128 kernels, written by hand.
;;
;; The module has no memory of its own: it imports the Go instance's exported
;; linear memory as env.mem, and every pointer argument is a byte address into
;; it (Go passes unsafe.Pointer(&s[0])). Go reaches these exports through
;; `//go:wasmimport alibi_simd <name>` and the JS trampoline in host.mjs.
;;
;; Build: wat2wasm engine/kernels/simd/kernels.wat -o build/kernels/kernels.wasm
;; (tools/wasmexec/build-kernels.sh). Plain SIMD128 only (no relaxed SIMD), so
;; Node 20 and every current browser accept it without flags.
;;
;; kernels-fma.wasm is the same module with fused multiply-adds: in every
;; function whose (func ...) line ends with the marker `;; @fma`, each
;; accumulation (f32x4.add (local.get $acc) (f32x4.mul A B)) becomes
;; (f32x4.relaxed_madd A B (local.get $acc)) (relaxed SIMD; internal/watfma
;; rewrites the text, wat2wasm --enable-relaxed-simd assembles it). Hosts that
;; validate relaxed SIMD load it instead (host.mjs relaxedSIMD()). Only
;; functions whose accumulators do not wait on each other's previous step are
;; marked: there the fused op saves an instruction per multiply-add, where a
;; single chain would wait on its longer latency instead.
;;
;; Conventions: f32 matrices are row-major; "rows" x "cols" W means row r
;; starts at w + 4*r*cols. No kernel reads or writes outside the ranges its
;; arguments describe; lengths that are not multiples of the vector width are
;; finished with scalar loops. Argument checks are done on the Go side.
(module
  (import "env" "mem" (memory 0))

  ;; available() -> 1. The host's stub (no kernel module) returns 0.
  (func (export "available") (result i32)
    (i32.const 1))

  ;; version() -> ABI version of this module; Go checks it at init.
  (func (export "version") (result i32)
    (i32.const 4))

  ;; ---------------------------------------------------------------------
  ;; helpers

  ;; $hsum(v) -> v[0]+v[1]+v[2]+v[3]
  (func $hsum (param $v v128) (result f32)
    (local.set $v (f32x4.add (local.get $v)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v))))

  ;; $reduce4(a,b,c,d) -> [hsum a, hsum b, hsum c, hsum d]
  (func $reduce4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $ab v128) (local $cd v128)
    ;; [a0+a2, b0+b2, a1+a3, b1+b3]
    (local.set $ab (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $cd (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab) (local.get $cd))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab) (local.get $cd))))

  ;; $sdot(a, b, n) -> sum a[i]*b[i], scalar (tails of fewer than 4 or 8).
  (func $sdot (param $a i32) (param $b i32) (param $n i32) (result f32)
    (local $s f32) (local $end i32)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
      (loop $l
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.load (local.get $a)) (f32.load (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br_if $l (i32.lt_u (local.get $a) (local.get $end)))))
    (local.get $s))

  ;; ---------------------------------------------------------------------
  ;; dot(a, b, n) -> sum a[i]*b[i]; 4 accumulators x 4 lanes, 16 per step.
  (func $dot (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f32)
    (local $e16 i32) (local $e4 i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $e16 (i32.add (local.get $a)
      (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (local.set $e4 (i32.add (local.get $a)
      (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $d16
      (br_if $d16 (i32.ge_u (local.get $a) (local.get $e16)))
      (loop $l16
        (local.set $s0 (f32x4.add (local.get $s0)
          (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b)))))
        (local.set $s1 (f32x4.add (local.get $s1)
          (f32x4.mul (v128.load offset=16 (local.get $a)) (v128.load offset=16 (local.get $b)))))
        (local.set $s2 (f32x4.add (local.get $s2)
          (f32x4.mul (v128.load offset=32 (local.get $a)) (v128.load offset=32 (local.get $b)))))
        (local.set $s3 (f32x4.add (local.get $s3)
          (f32x4.mul (v128.load offset=48 (local.get $a)) (v128.load offset=48 (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 64)))
        (local.set $b (i32.add (local.get $b) (i32.const 64)))
        (br_if $l16 (i32.lt_u (local.get $a) (local.get $e16)))))
    (block $d4
      (br_if $d4 (i32.ge_u (local.get $a) (local.get $e4)))
      (loop $l4
        (local.set $s0 (f32x4.add (local.get $s0)
          (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l4 (i32.lt_u (local.get $a) (local.get $e4)))))
    (f32.add
      (call $hsum (f32x4.add (f32x4.add (local.get $s0) (local.get $s1))
                             (f32x4.add (local.get $s2) (local.get $s3))))
      (call $sdot (local.get $a) (local.get $b) (i32.and (local.get $n) (i32.const 3)))))

  ;; ---------------------------------------------------------------------
  ;; matvec(dst, w, x, rows, cols): dst[r] = dot(w[r*cols:], x, cols).
  ;; W is cut into four quarters of q = rows/4 rows; pass i computes rows i,
  ;; q+i, 2q+i and 3q+i together, each x load shared by the four rows,
  ;; 8 columns per step into 8 accumulators (columns 0-3 and 4-7 of each
  ;; step apart, so no accumulator waits on its own previous step), then 4
  ;; columns, then the scalar tail.
  ;; Each quarter is read strictly in order across the passes (row i+1
  ;; starts where row i ended), so W streams as 4 long sequential reads,
  ;; which the hardware prefetchers follow: from DRAM this reads 26-31 GB/s
  ;; (a one-stream SIMD sum: ~25 GB/s), against 15-19 GB/s for 4 or 8
  ;; consecutive rows per pass (4 short streams that restart on new pages
  ;; every pass) and 5-8 GB/s for them with 256 columns (4 rows share a 4 KiB
  ;; page in a pattern the prefetcher does not follow). In cache it runs as
  ;; fast as consecutive rows. Leftover rows (rows%4) use dot.
  ;; Measured in Node 20 (V8 11.3, Zen 4) against ~20 other variants: wider
  ;; steps (8 rows, 3 rows, 2x16, 16 columns per step) make TurboFan spill
  ;; and run 10-40% slower in cache; one row per pass (x reloaded) is 10-35%
  ;; slower in cache and, beyond 2048 columns, also from DRAM. The 8
  ;; accumulators are even with 4 in Chromium 156 (V8 15.6) with f32x4.mul
  ;; and .add, and 17-19% faster in cache with relaxed_madd (kernels-fma.wasm,
  ;; see @fma below), where 4 would wait on the fused add's latency.
  (func $matvec (export "matvec") (param $dst i32) (param $w i32) (param $x i32) (param $rows i32) (param $cols i32) ;; @fma
    (local $q i32) (local $qb i32) (local $qd i32) (local $rb i32) (local $r i32) (local $d i32)
    (local $c8 i32) (local $c4 i32) (local $t i32) (local $xp i32) (local $xe i32) (local $xe4 i32)
    (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $xw v128) (local $xv v128) (local $s v128)
    (local.set $rb (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $c8 (i32.shl (i32.and (local.get $cols) (i32.const -8)) (i32.const 2)))
    (local.set $c4 (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2)))
    (local.set $t (i32.and (local.get $cols) (i32.const 3)))
    (local.set $q (i32.shr_u (local.get $rows) (i32.const 2)))
    (local.set $qb (i32.mul (local.get $q) (local.get $rb)))
    (local.set $qd (i32.shl (local.get $q) (i32.const 2)))
    (local.set $w0 (local.get $w))
    (local.set $w1 (i32.add (local.get $w0) (local.get $qb)))
    (local.set $w2 (i32.add (local.get $w1) (local.get $qb)))
    (local.set $w3 (i32.add (local.get $w2) (local.get $qb)))
    (local.set $d (local.get $dst))
    (block $rdone
      (br_if $rdone (i32.ge_s (local.get $r) (local.get $q)))
      (loop $rl
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $xp (local.get $x))
        (local.set $xe (i32.add (local.get $x) (local.get $c8)))
        (local.set $xe4 (i32.add (local.get $x) (local.get $c4)))
        (block $kdone
          (br_if $kdone (i32.ge_u (local.get $xp) (local.get $xe)))
          (loop $kl
            (local.set $xv (v128.load (local.get $xp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $w0)) (local.get $xv))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load (local.get $w1)) (local.get $xv))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load (local.get $w2)) (local.get $xv))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load (local.get $w3)) (local.get $xv))))
            (local.set $xw (v128.load offset=16 (local.get $xp)))
            (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (v128.load offset=16 (local.get $w0)) (local.get $xw))))
            (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (v128.load offset=16 (local.get $w1)) (local.get $xw))))
            (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (v128.load offset=16 (local.get $w2)) (local.get $xw))))
            (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (v128.load offset=16 (local.get $w3)) (local.get $xw))))
            (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
            (local.set $w0 (i32.add (local.get $w0) (i32.const 32)))
            (local.set $w1 (i32.add (local.get $w1) (i32.const 32)))
            (local.set $w2 (i32.add (local.get $w2) (i32.const 32)))
            (local.set $w3 (i32.add (local.get $w3) (i32.const 32)))
            (br_if $kl (i32.lt_u (local.get $xp) (local.get $xe)))))
        (if (i32.lt_u (local.get $xp) (local.get $xe4))
          (then
            (local.set $xv (v128.load (local.get $xp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $w0)) (local.get $xv))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load (local.get $w1)) (local.get $xv))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load (local.get $w2)) (local.get $xv))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load (local.get $w3)) (local.get $xv))))
            (local.set $xp (i32.add (local.get $xp) (i32.const 16)))
            (local.set $w0 (i32.add (local.get $w0) (i32.const 16)))
            (local.set $w1 (i32.add (local.get $w1) (i32.const 16)))
            (local.set $w2 (i32.add (local.get $w2) (i32.const 16)))
            (local.set $w3 (i32.add (local.get $w3) (i32.const 16)))))
        (local.set $s (call $reduce4 (f32x4.add (local.get $a0) (local.get $b0)) (f32x4.add (local.get $a1) (local.get $b1))
                                     (f32x4.add (local.get $a2) (local.get $b2)) (f32x4.add (local.get $a3) (local.get $b3))))
        (if (local.get $t)
          (then
            (local.set $s (f32x4.add (local.get $s)
              (f32x4.replace_lane 3
                (f32x4.replace_lane 2
                  (f32x4.replace_lane 1
                    (f32x4.splat (call $sdot (local.get $w0) (local.get $xp) (local.get $t)))
                    (call $sdot (local.get $w1) (local.get $xp) (local.get $t)))
                  (call $sdot (local.get $w2) (local.get $xp) (local.get $t)))
                (call $sdot (local.get $w3) (local.get $xp) (local.get $t)))))
            ;; on to the next row of each quarter
            (local.set $w0 (i32.add (local.get $w0) (i32.shl (local.get $t) (i32.const 2))))
            (local.set $w1 (i32.add (local.get $w1) (i32.shl (local.get $t) (i32.const 2))))
            (local.set $w2 (i32.add (local.get $w2) (i32.shl (local.get $t) (i32.const 2))))
            (local.set $w3 (i32.add (local.get $w3) (i32.shl (local.get $t) (i32.const 2))))))
        (f32.store (local.get $d) (f32x4.extract_lane 0 (local.get $s)))
        (f32.store (i32.add (local.get $d) (local.get $qd)) (f32x4.extract_lane 1 (local.get $s)))
        (f32.store (i32.add (local.get $d) (i32.shl (local.get $qd) (i32.const 1))) (f32x4.extract_lane 2 (local.get $s)))
        (f32.store (i32.add (local.get $d) (i32.mul (local.get $qd) (i32.const 3))) (f32x4.extract_lane 3 (local.get $s)))
        (local.set $d (i32.add (local.get $d) (i32.const 4)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $rl (i32.lt_s (local.get $r) (local.get $q)))))
    ;; leftover rows
    (local.set $r (i32.shl (local.get $q) (i32.const 2)))
    (block $odone
      (br_if $odone (i32.ge_s (local.get $r) (local.get $rows)))
      (loop $ol
        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2)))
          (call $dot (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $rb)))
                     (local.get $x) (local.get $cols)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $ol (i32.lt_s (local.get $r) (local.get $rows))))))

  ;; ---------------------------------------------------------------------
  ;; axpy(dst, a, x, n): dst[i] += a*x[i].
  (func (export "axpy") (param $dst i32) (param $a f32) (param $x i32) (param $n i32)
    (local $e16 i32) (local $e i32) (local $av v128)
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $e16 (i32.add (local.get $dst)
      (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (local.set $e (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (block $d16
      (br_if $d16 (i32.ge_u (local.get $dst) (local.get $e16)))
      (loop $l16
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst))
          (f32x4.mul (local.get $av) (v128.load (local.get $x)))))
        (v128.store offset=16 (local.get $dst) (f32x4.add (v128.load offset=16 (local.get $dst))
          (f32x4.mul (local.get $av) (v128.load offset=16 (local.get $x)))))
        (v128.store offset=32 (local.get $dst) (f32x4.add (v128.load offset=32 (local.get $dst))
          (f32x4.mul (local.get $av) (v128.load offset=32 (local.get $x)))))
        (v128.store offset=48 (local.get $dst) (f32x4.add (v128.load offset=48 (local.get $dst))
          (f32x4.mul (local.get $av) (v128.load offset=48 (local.get $x)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
        (local.set $x (i32.add (local.get $x) (i32.const 64)))
        (br_if $l16 (i32.lt_u (local.get $dst) (local.get $e16)))))
    (block $d4
      (br_if $d4 (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $e)))
      (loop $l4
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst))
          (f32x4.mul (local.get $av) (v128.load (local.get $x)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $l4 (i32.le_u (i32.add (local.get $dst) (i32.const 16)) (local.get $e)))))
    (block $d1
      (br_if $d1 (i32.ge_u (local.get $dst) (local.get $e)))
      (loop $l1
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst))
          (f32.mul (local.get $a) (f32.load (local.get $x)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br_if $l1 (i32.lt_u (local.get $dst) (local.get $e))))))

  ;; ---------------------------------------------------------------------
  ;; $mm4(dst, ds, x, n, w, cols): for the 4 consecutive rows W[0..3] at w
  ;; (row stride cols) and the n rows of X at x (row stride cols):
  ;;   dst[i*ds + j] = dot(X[i], W[j]), i < n, j < 4   (ds in floats)
  ;; Register block: 2 rows of X x 4 rows of W (8 accumulators), 4 columns
  ;; per step, so each W load feeds two rows of X and each X load four rows
  ;; of W. (8 columns per step made TurboFan spill accumulators: ~10% slower.)
  ;; An odd last row of X goes through matvec.
  (func $mm4 (param $dst i32) (param $ds i32) (param $x i32) (param $n i32) (param $w i32) (param $cols i32) ;; @fma
    (local $cb i32) (local $c4 i32) (local $t i32) (local $i i32)
    (local $x0 i32) (local $x1 i32) (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $xe i32)
    (local $c00 v128) (local $c01 v128) (local $c02 v128) (local $c03 v128)
    (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128)
    (local $xa v128) (local $xb v128) (local $wv v128) (local $v0 v128) (local $v1 v128)
    (local $d i32)
    (local.set $cb (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $ds (i32.shl (local.get $ds) (i32.const 2)))
    (local.set $c4 (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2)))
    (local.set $t (i32.and (local.get $cols) (i32.const 3)))
    (block $idone
      (br_if $idone (i32.gt_s (i32.add (local.get $i) (i32.const 2)) (local.get $n)))
      (loop $il
        (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $cb))))
        (local.set $x1 (i32.add (local.get $x0) (local.get $cb)))
        (local.set $w0 (local.get $w))
        (local.set $w1 (i32.add (local.get $w0) (local.get $cb)))
        (local.set $w2 (i32.add (local.get $w1) (local.get $cb)))
        (local.set $w3 (i32.add (local.get $w2) (local.get $cb)))
        (local.set $xe (i32.add (local.get $x0) (local.get $c4)))
        (local.set $c00 (v128.const i32x4 0 0 0 0))
        (local.set $c01 (v128.const i32x4 0 0 0 0))
        (local.set $c02 (v128.const i32x4 0 0 0 0))
        (local.set $c03 (v128.const i32x4 0 0 0 0))
        (local.set $c10 (v128.const i32x4 0 0 0 0))
        (local.set $c11 (v128.const i32x4 0 0 0 0))
        (local.set $c12 (v128.const i32x4 0 0 0 0))
        (local.set $c13 (v128.const i32x4 0 0 0 0))
        (block $kdone
          (br_if $kdone (i32.ge_u (local.get $x0) (local.get $xe)))
          (loop $kl
            (local.set $xa (v128.load (local.get $x0)))
            (local.set $xb (v128.load (local.get $x1)))
            (local.set $wv (v128.load (local.get $w0)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xa) (local.get $wv))))
            (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $xb) (local.get $wv))))
            (local.set $wv (v128.load (local.get $w1)))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $xa) (local.get $wv))))
            (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $xb) (local.get $wv))))
            (local.set $wv (v128.load (local.get $w2)))
            (local.set $c02 (f32x4.add (local.get $c02) (f32x4.mul (local.get $xa) (local.get $wv))))
            (local.set $c12 (f32x4.add (local.get $c12) (f32x4.mul (local.get $xb) (local.get $wv))))
            (local.set $wv (v128.load (local.get $w3)))
            (local.set $c03 (f32x4.add (local.get $c03) (f32x4.mul (local.get $xa) (local.get $wv))))
            (local.set $c13 (f32x4.add (local.get $c13) (f32x4.mul (local.get $xb) (local.get $wv))))
            (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
            (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
            (local.set $w0 (i32.add (local.get $w0) (i32.const 16)))
            (local.set $w1 (i32.add (local.get $w1) (i32.const 16)))
            (local.set $w2 (i32.add (local.get $w2) (i32.const 16)))
            (local.set $w3 (i32.add (local.get $w3) (i32.const 16)))
            (br_if $kl (i32.lt_u (local.get $x0) (local.get $xe)))))
        (local.set $v0 (call $reduce4 (local.get $c00) (local.get $c01) (local.get $c02) (local.get $c03)))
        (local.set $v1 (call $reduce4 (local.get $c10) (local.get $c11) (local.get $c12) (local.get $c13)))
        (if (local.get $t)
          (then
            (local.set $v0 (f32x4.add (local.get $v0)
              (f32x4.replace_lane 3
                (f32x4.replace_lane 2
                  (f32x4.replace_lane 1
                    (f32x4.splat (call $sdot (local.get $w0) (local.get $x0) (local.get $t)))
                    (call $sdot (local.get $w1) (local.get $x0) (local.get $t)))
                  (call $sdot (local.get $w2) (local.get $x0) (local.get $t)))
                (call $sdot (local.get $w3) (local.get $x0) (local.get $t)))))
            (local.set $v1 (f32x4.add (local.get $v1)
              (f32x4.replace_lane 3
                (f32x4.replace_lane 2
                  (f32x4.replace_lane 1
                    (f32x4.splat (call $sdot (local.get $w0) (local.get $x1) (local.get $t)))
                    (call $sdot (local.get $w1) (local.get $x1) (local.get $t)))
                  (call $sdot (local.get $w2) (local.get $x1) (local.get $t)))
                (call $sdot (local.get $w3) (local.get $x1) (local.get $t)))))))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $i) (local.get $ds))))
        (v128.store (local.get $d) (local.get $v0))
        (v128.store (i32.add (local.get $d) (local.get $ds)) (local.get $v1))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br_if $il (i32.le_s (i32.add (local.get $i) (i32.const 2)) (local.get $n)))))
    (if (i32.lt_s (local.get $i) (local.get $n))
      (then
        (call $matvec (i32.add (local.get $dst) (i32.mul (local.get $i) (local.get $ds)))
          (local.get $w) (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $cb)))
          (i32.const 4) (local.get $cols)))))

  ;; matmul(dst, x, w, n, rows, cols): dst = X·Wᵀ, X (n, cols), W (rows, cols),
  ;; dst (n, rows): dst[i*rows + r] = dot(X[i], W[r]).
  ;; Rows of X go in panels of about 256 KiB (kept in L2); for each panel,
  ;; blocks of 4 rows of W (kept in L1) meet every row of the panel ($mm4).
  ;; Without the panels a long prompt streams all of X from L3 once per
  ;; 4 rows of W (3-4x slower at n = 256). The rows%4 leftover rows of W go
  ;; through matvec per row of X.
  (func (export "matmul") (param $dst i32) (param $x i32) (param $w i32) (param $n i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $i i32) (local $cb i32) (local $db i32) (local $i0 i32) (local $pn i32) (local $m i32)
    (local.set $cb (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $db (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $pn (i32.and (i32.div_u (i32.const 262144) (local.get $cb)) (i32.const -2)))
    (if (i32.lt_s (local.get $pn) (i32.const 2)) (then (local.set $pn (i32.const 2))))
    (block $pdone
      (br_if $pdone (i32.ge_s (local.get $i0) (local.get $n)))
      (loop $pl
        (local.set $m (i32.sub (local.get $n) (local.get $i0)))
        (if (i32.gt_s (local.get $m) (local.get $pn)) (then (local.set $m (local.get $pn))))
        (local.set $r (i32.const 0))
        (block $rdone
          (br_if $rdone (i32.gt_s (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))
          (loop $rl
            (call $mm4
              (i32.add (i32.add (local.get $dst) (i32.mul (local.get $i0) (local.get $db))) (i32.shl (local.get $r) (i32.const 2)))
              (local.get $rows)
              (i32.add (local.get $x) (i32.mul (local.get $i0) (local.get $cb))) (local.get $m)
              (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $cb))) (local.get $cols))
            (local.set $r (i32.add (local.get $r) (i32.const 4)))
            (br_if $rl (i32.le_s (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))))
        (if (i32.lt_s (local.get $r) (local.get $rows))
          (then
            (local.set $i (local.get $i0))
            (loop $il
              (call $matvec
                (i32.add (i32.add (local.get $dst) (i32.mul (local.get $i) (local.get $db))) (i32.shl (local.get $r) (i32.const 2)))
                (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $cb)))
                (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $cb)))
                (i32.sub (local.get $rows) (local.get $r)) (local.get $cols))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $il (i32.lt_s (local.get $i) (i32.add (local.get $i0) (local.get $m)))))))
        (local.set $i0 (i32.add (local.get $i0) (local.get $m)))
        (br_if $pl (i32.lt_s (local.get $i0) (local.get $n))))))

  ;; ---------------------------------------------------------------------
  ;; int8 weights with f32 scales (kernels.QuantizeQ8 layout): W is (rows,
  ;; cols) int8, scales holds cols/block f32 per row, block is 32 or cols.

  ;; $quant16(x, q, xs, nb): quantizes nb blocks of 32 floats at x to int16
  ;; at q (64 bytes per block) with one f32 scale per block at xs:
  ;; xs[b] = max|x| / 32767, q = round(x / xs[b]). A NaN or Inf in a block
  ;; makes xs[b] NaN or Inf, so it still poisons the results that use it.
  (func $quant16 (param $x i32) (param $q i32) (param $xs i32) (param $nb i32)
    (local $end i32) (local $m v128) (local $amax f32) (local $iv v128)
    (local.set $end (i32.add (local.get $xs) (i32.shl (local.get $nb) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $xs) (local.get $end)))
      (loop $l
        (local.set $m (f32x4.max
          (f32x4.max
            (f32x4.max (f32x4.abs (v128.load (local.get $x))) (f32x4.abs (v128.load offset=16 (local.get $x))))
            (f32x4.max (f32x4.abs (v128.load offset=32 (local.get $x))) (f32x4.abs (v128.load offset=48 (local.get $x)))))
          (f32x4.max
            (f32x4.max (f32x4.abs (v128.load offset=64 (local.get $x))) (f32x4.abs (v128.load offset=80 (local.get $x))))
            (f32x4.max (f32x4.abs (v128.load offset=96 (local.get $x))) (f32x4.abs (v128.load offset=112 (local.get $x)))))))
        (local.set $m (f32x4.max (local.get $m)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m))))
        (local.set $amax (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m))))
        (f32.store (local.get $xs) (f32.div (local.get $amax) (f32.const 32767)))
        (local.set $iv (f32x4.splat
          (select (f32.div (f32.const 32767) (local.get $amax)) (f32.const 0)
                  (f32.gt (local.get $amax) (f32.const 0)))))
        (v128.store (local.get $q) (i16x8.narrow_i32x4_s
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load (local.get $x)) (local.get $iv))))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 (local.get $x)) (local.get $iv))))))
        (v128.store offset=16 (local.get $q) (i16x8.narrow_i32x4_s
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=32 (local.get $x)) (local.get $iv))))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=48 (local.get $x)) (local.get $iv))))))
        (v128.store offset=32 (local.get $q) (i16x8.narrow_i32x4_s
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=64 (local.get $x)) (local.get $iv))))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=80 (local.get $x)) (local.get $iv))))))
        (v128.store offset=48 (local.get $q) (i16x8.narrow_i32x4_s
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=96 (local.get $x)) (local.get $iv))))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=112 (local.get $x)) (local.get $iv))))))
        (local.set $x (i32.add (local.get $x) (i32.const 128)))
        (local.set $q (i32.add (local.get $q) (i32.const 64)))
        (local.set $xs (i32.add (local.get $xs) (i32.const 4)))
        (br_if $l (i32.lt_u (local.get $xs) (local.get $end))))))

  ;; $sdotq8(w, x, n) -> sum float32(w[i]) * x[i], scalar, w int8.
  (func $sdotq8 (param $w i32) (param $x i32) (param $n i32) (result f32)
    (local $s f32) (local $end i32)
    (local.set $end (i32.add (local.get $w) (local.get $n)))
    (block $done
      (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
      (loop $l
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.convert_i32_s (i32.load8_s (local.get $w))) (f32.load (local.get $x)))))
        (local.set $w (i32.add (local.get $w) (i32.const 1)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br_if $l (i32.lt_u (local.get $w) (local.get $end)))))
    (local.get $s))

  ;; $q8blk(w, q) -> i32x4 partial sums of 32 int8 weights at w times 32
  ;; int16 activations at q (lane sums add up to the block's dot product;
  ;; |sum| <= 32*128*32767 < 2^31). The weights are read eight at a time
  ;; with v128.load8x8_s, one sign-extending load (pmovsxbw) where a 16-byte
  ;; load and extend_high cost three instructions: bloom-560m's decode
  ;; matrices from memory 18.1 -> 20.4 GB/s in Chromium 156 (and $q8rows4
  ;; reads them the same way).
  (func $q8blk (param $w i32) (param $q i32) (result v128)
    (i32x4.add
      (i32x4.add
        (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $w)) (v128.load (local.get $q)))
        (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $w)) (v128.load offset=16 (local.get $q))))
      (i32x4.add
        (i32x4.dot_i16x8_s (v128.load8x8_s offset=16 (local.get $w)) (v128.load offset=32 (local.get $q)))
        (i32x4.dot_i16x8_s (v128.load8x8_s offset=24 (local.get $w)) (v128.load offset=48 (local.get $q))))))

  ;; Both int8 kernels quantize the activations to int16 per 32 columns
  ;; ($quant16; relative error <= 2^-16 of each 32-block's max|x|, far below
  ;; the int8 weight error), then take each 32-block as an integer dot
  ;; product (i32x4.dot_i16x8_s) scaled by scale_w*scale_x into f32
  ;; accumulators. Columns past the last full 32-block (only when block ==
  ;; cols, i.e. per-row scales) are done in f32. matvec_q8 and matmul_q8 go
  ;; through the same row functions, so decoding one token and prefilling it
  ;; give bit-identical results.
  ;;
  ;; Row-function arguments: w = first weight row (rows are cols bytes
  ;; apart), s = its first scale (rows are srow bytes apart, sstep bytes per
  ;; 32-block: 4 for block 32, 0 for per-row scales), q/xs = the quantized
  ;; activation row and its block scales, nb = full 32-blocks, xt = the f32
  ;; activations of the t tail columns.

  ;; $q8rows4: four weight rows, which share the activation loads. Here
  ;; cols and srow are the byte distances between the four rows' weights and
  ;; scales and ds between their results: dst, dst+ds, dst+2ds, dst+3ds
  ;; (consecutive rows for matmul_q8, the rows i, q+i, 2q+i, 3q+i of four
  ;; row quarters for matvec_q8: the same arithmetic per row either way).
  ;; Per 32-block each row's products are summed exactly in i32 lanes; the
  ;; four rows' lane sums are transposed and added into one vector of four
  ;; block sums, converted and scaled once for the four rows (lane i of the
  ;; f32 accumulator is row i). Against one float update per row (convert,
  ;; scale splat, multiply, add, and a final horizontal sum), this is ~12%
  ;; faster on decode-shaped matrices from memory in Chromium 156 (15.6 ->
  ;; 17.5 GB/s over bloom-560m's 24 layers and head) and 4% in cache.
  (func $q8rows4 (param $dst i32) (param $w0 i32) (param $s0 i32) (param $q i32) (param $xsp i32)
      (param $nb i32) (param $sstep i32) (param $xt i32) (param $t i32) (param $cols i32) (param $srow i32)
      (param $ds i32)
    (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32)
    (local $qe i32) (local $xsc f32)
    (local $f0 v128) (local $v v128)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128) (local $t0 v128) (local $t1 v128)
    (local.set $w1 (i32.add (local.get $w0) (local.get $cols)))
    (local.set $w2 (i32.add (local.get $w1) (local.get $cols)))
    (local.set $w3 (i32.add (local.get $w2) (local.get $cols)))
    (local.set $s1 (i32.add (local.get $s0) (local.get $srow)))
    (local.set $s2 (i32.add (local.get $s1) (local.get $srow)))
    (local.set $s3 (i32.add (local.get $s2) (local.get $srow)))
    (local.set $qe (i32.add (local.get $q) (i32.shl (local.get $nb) (i32.const 6))))
    (block $bdone
      (br_if $bdone (i32.ge_u (local.get $q) (local.get $qe)))
      (loop $bl
            ;; the block's 32 int16 activations, shared by the four rows
            (local.set $xsc (f32.load (local.get $xsp)))
            (local.set $q0 (v128.load (local.get $q)))
            (local.set $q1 (v128.load offset=16 (local.get $q)))
            (local.set $q2 (v128.load offset=32 (local.get $q)))
            (local.set $q3 (v128.load offset=48 (local.get $q)))
            (local.set $p0 (i32x4.add
                (i32x4.add
                  (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $w0)) (local.get $q0))
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $w0)) (local.get $q1)))
                (i32x4.add
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=16 (local.get $w0)) (local.get $q2))
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=24 (local.get $w0)) (local.get $q3)))))
            (local.set $p1 (i32x4.add
                (i32x4.add
                  (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $w1)) (local.get $q0))
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $w1)) (local.get $q1)))
                (i32x4.add
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=16 (local.get $w1)) (local.get $q2))
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=24 (local.get $w1)) (local.get $q3)))))
            (local.set $p2 (i32x4.add
                (i32x4.add
                  (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $w2)) (local.get $q0))
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $w2)) (local.get $q1)))
                (i32x4.add
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=16 (local.get $w2)) (local.get $q2))
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=24 (local.get $w2)) (local.get $q3)))))
            (local.set $p3 (i32x4.add
                (i32x4.add
                  (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $w3)) (local.get $q0))
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $w3)) (local.get $q1)))
                (i32x4.add
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=16 (local.get $w3)) (local.get $q2))
                  (i32x4.dot_i16x8_s (v128.load8x8_s offset=24 (local.get $w3)) (local.get $q3)))))
            ;; Transpose-add p0..p3 into [P0 P1 P2 P3], the four rows' exact
            ;; block sums, then one float update for the four rows: the
            ;; block's scales as one vector times the activations' scale.
            (local.set $t0 (i32x4.add
              (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $p0) (local.get $p1))
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $p0) (local.get $p1))))
            (local.set $t1 (i32x4.add
              (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $p2) (local.get $p3))
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $p2) (local.get $p3))))
            (local.set $f0 (f32x4.add (local.get $f0) (f32x4.mul
              (f32x4.convert_i32x4_s (i32x4.add
                (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1))
                (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))))
              (f32x4.mul (f32x4.splat (local.get $xsc))
                (v128.load32_lane 3 (local.get $s3)
                  (v128.load32_lane 2 (local.get $s2)
                    (v128.load32_lane 1 (local.get $s1)
                      (v128.load32_zero (local.get $s0)))))))))
            (local.set $w0 (i32.add (local.get $w0) (i32.const 32)))
            (local.set $s0 (i32.add (local.get $s0) (local.get $sstep)))
            (local.set $w1 (i32.add (local.get $w1) (i32.const 32)))
            (local.set $s1 (i32.add (local.get $s1) (local.get $sstep)))
            (local.set $w2 (i32.add (local.get $w2) (i32.const 32)))
            (local.set $s2 (i32.add (local.get $s2) (local.get $sstep)))
            (local.set $w3 (i32.add (local.get $w3) (i32.const 32)))
            (local.set $s3 (i32.add (local.get $s3) (local.get $sstep)))
            (local.set $q (i32.add (local.get $q) (i32.const 64)))
            (local.set $xsp (i32.add (local.get $xsp) (i32.const 4)))
            (br_if $bl (i32.lt_u (local.get $q) (local.get $qe)))))
    (local.set $v (local.get $f0)) ;; lane i: row i
    (if (local.get $t)
      (then ;; per-row scales: s0..s3 still point at each row's scale
        (local.set $v (f32x4.add (local.get $v)
          (f32x4.replace_lane 3
            (f32x4.replace_lane 2
              (f32x4.replace_lane 1
                (f32x4.splat (f32.mul (f32.load (local.get $s0)) (call $sdotq8 (local.get $w0) (local.get $xt) (local.get $t))))
                (f32.mul (f32.load (local.get $s1)) (call $sdotq8 (local.get $w1) (local.get $xt) (local.get $t))))
              (f32.mul (f32.load (local.get $s2)) (call $sdotq8 (local.get $w2) (local.get $xt) (local.get $t))))
            (f32.mul (f32.load (local.get $s3)) (call $sdotq8 (local.get $w3) (local.get $xt) (local.get $t))))))))
    (f32.store (local.get $dst) (f32x4.extract_lane 0 (local.get $v)))
    (f32.store (i32.add (local.get $dst) (local.get $ds)) (f32x4.extract_lane 1 (local.get $v)))
    (f32.store (i32.add (local.get $dst) (i32.shl (local.get $ds) (i32.const 1))) (f32x4.extract_lane 2 (local.get $v)))
    (f32.store (i32.add (local.get $dst) (i32.mul (local.get $ds) (i32.const 3))) (f32x4.extract_lane 3 (local.get $v))))

  ;; $q8row1: dst[0] for one weight row (the rows%4 leftovers).
  (func $q8row1 (param $dst i32) (param $w0 i32) (param $s0 i32) (param $q i32) (param $xsp i32)
      (param $nb i32) (param $sstep i32) (param $xt i32) (param $t i32)
    (local $qe i32) (local $f0 v128)
    (local.set $qe (i32.add (local.get $q) (i32.shl (local.get $nb) (i32.const 6))))
    (block $bdone
      (br_if $bdone (i32.ge_u (local.get $q) (local.get $qe)))
      (loop $bl
        (local.set $f0 (f32x4.add (local.get $f0) (f32x4.mul
          (f32x4.convert_i32x4_s (call $q8blk (local.get $w0) (local.get $q)))
          (f32x4.splat (f32.mul (f32.load (local.get $s0)) (f32.load (local.get $xsp)))))))
        (local.set $w0 (i32.add (local.get $w0) (i32.const 32)))
        (local.set $s0 (i32.add (local.get $s0) (local.get $sstep)))
        (local.set $q (i32.add (local.get $q) (i32.const 64)))
        (local.set $xsp (i32.add (local.get $xsp) (i32.const 4)))
        (br_if $bl (i32.lt_u (local.get $q) (local.get $qe)))))
    (f32.store (local.get $dst)
      (f32.add (call $hsum (local.get $f0))
        (select
          (f32.mul (f32.load (local.get $s0)) (call $sdotq8 (local.get $w0) (local.get $xt) (local.get $t)))
          (f32.const 0)
          (local.get $t)))))

  ;; matvec_q8(dst, w, scales, x, rows, cols, block, scratch):
  ;;   dst[r] = sum_c float32(w[r*cols+c]) * scales[(r*cols+c)/block] * x[c]
  ;; scratch: 68*(cols/32) bytes (int16 activations, then their f32 scales).
  ;; As in matvec, W goes in four row quarters read in parallel (rows i,
  ;; q+i, 2q+i, 3q+i per pass, q = rows/4): four long sequential streams
  ;; that the hardware prefetchers follow, instead of four short ones per
  ;; pass. Leftover rows (rows%4) go one at a time.
  (func (export "matvec_q8") (param $dst i32) (param $w i32) (param $s i32) (param $x i32)
      (param $rows i32) (param $cols i32) (param $block i32) (param $scr i32)
    (local $nb i32) (local $xsb i32) (local $sstep i32) (local $srow i32) (local $t i32) (local $xt i32) (local $r i32)
    (local $q i32)
    (local.set $nb (i32.shr_u (local.get $cols) (i32.const 5)))
    (local.set $xsb (i32.add (local.get $scr) (i32.shl (local.get $nb) (i32.const 6))))
    (local.set $sstep (select (i32.const 4) (i32.const 0) (i32.eq (local.get $block) (i32.const 32))))
    (local.set $srow (i32.shl (i32.div_u (local.get $cols) (local.get $block)) (i32.const 2)))
    (local.set $t (i32.and (local.get $cols) (i32.const 31)))
    (local.set $xt (i32.add (local.get $x) (i32.shl (local.get $nb) (i32.const 7))))
    (call $quant16 (local.get $x) (local.get $scr) (local.get $xsb) (local.get $nb))
    (local.set $q (i32.shr_u (local.get $rows) (i32.const 2)))
    (block $rdone
      (br_if $rdone (i32.ge_s (local.get $r) (local.get $q)))
      (loop $rl
        (call $q8rows4 (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2)))
          (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $cols)))
          (i32.add (local.get $s) (i32.mul (local.get $r) (local.get $srow)))
          (local.get $scr) (local.get $xsb) (local.get $nb) (local.get $sstep) (local.get $xt) (local.get $t)
          (i32.mul (local.get $q) (local.get $cols)) (i32.mul (local.get $q) (local.get $srow))
          (i32.shl (local.get $q) (i32.const 2)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $rl (i32.lt_s (local.get $r) (local.get $q)))))
    (local.set $r (i32.shl (local.get $q) (i32.const 2)))
    (block $odone
      (br_if $odone (i32.ge_s (local.get $r) (local.get $rows)))
      (loop $ol
        (call $q8row1 (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2)))
          (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $cols)))
          (i32.add (local.get $s) (i32.mul (local.get $r) (local.get $srow)))
          (local.get $scr) (local.get $xsb) (local.get $nb) (local.get $sstep) (local.get $xt) (local.get $t))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $ol (i32.lt_s (local.get $r) (local.get $rows))))))

  ;; matmul_q8(dst, x, w, scales, n, rows, cols, block, scratch): dst = X·Wᵀ
  ;; for an int8 W (rows, cols) with block scales, X (n, cols) f32, dst
  ;; (n, rows): dst[i*rows+r] = matvec_q8 of row i of X, bit for bit.
  ;; Every row of X is quantized once; then, panel by panel of about 256 KiB
  ;; of quantized rows (kept in L2), each block of 4 rows of W (kept in L1)
  ;; meets every row of the panel. scratch: 68*n*(cols/32) bytes.
  (func (export "matmul_q8") (param $dst i32) (param $x i32) (param $w i32) (param $s i32)
      (param $n i32) (param $rows i32) (param $cols i32) (param $block i32) (param $scr i32)
    (local $nb i32) (local $xsb i32) (local $sstep i32) (local $srow i32) (local $t i32)
    (local $r i32) (local $i i32) (local $cb i32) (local $db i32) (local $qb i32)
    (local $wr i32) (local $sr i32) (local $d i32) (local $xi i32) (local $i0 i32) (local $ie i32) (local $pn i32)
    (local.set $nb (i32.shr_u (local.get $cols) (i32.const 5)))
    (local.set $qb (i32.shl (local.get $nb) (i32.const 6)))
    (local.set $xsb (i32.add (local.get $scr) (i32.mul (local.get $n) (local.get $qb))))
    (local.set $sstep (select (i32.const 4) (i32.const 0) (i32.eq (local.get $block) (i32.const 32))))
    (local.set $srow (i32.shl (i32.div_u (local.get $cols) (local.get $block)) (i32.const 2)))
    (local.set $t (i32.and (local.get $cols) (i32.const 31)))
    (local.set $cb (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $db (i32.shl (local.get $rows) (i32.const 2)))
    (if (i32.or (i32.le_s (local.get $n) (i32.const 0)) (i32.le_s (local.get $rows) (i32.const 0))) (then (return)))
    (loop $ql
      (call $quant16 (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $cb)))
        (i32.add (local.get $scr) (i32.mul (local.get $i) (local.get $qb)))
        (i32.add (local.get $xsb) (i32.shl (i32.mul (local.get $i) (local.get $nb)) (i32.const 2)))
        (local.get $nb))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $ql (i32.lt_s (local.get $i) (local.get $n))))
    ;; panels of about 256 KiB of quantized activations (kept in L2)
    (local.set $pn (i32.div_u (i32.const 262144) (i32.add (local.get $qb) (i32.const 4))))
    (if (i32.lt_s (local.get $pn) (i32.const 1)) (then (local.set $pn (i32.const 1))))
    (local.set $i0 (i32.const 0))
    (loop $pl
      (local.set $ie (i32.add (local.get $i0) (local.get $pn)))
      (if (i32.gt_s (local.get $ie) (local.get $n)) (then (local.set $ie (local.get $n))))
      (local.set $r (i32.const 0))
      (loop $rl
        (local.set $wr (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $cols))))
        (local.set $sr (i32.add (local.get $s) (i32.mul (local.get $r) (local.get $srow))))
        (local.set $i (local.get $i0))
        (loop $il
          (local.set $d (i32.add (i32.add (local.get $dst) (i32.mul (local.get $i) (local.get $db)))
            (i32.shl (local.get $r) (i32.const 2))))
          (local.set $xi (i32.add (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $cb)))
            (i32.shl (local.get $nb) (i32.const 7))))
          (if (i32.le_s (i32.add (local.get $r) (i32.const 4)) (local.get $rows))
            (then
              (call $q8rows4 (local.get $d) (local.get $wr) (local.get $sr)
                (i32.add (local.get $scr) (i32.mul (local.get $i) (local.get $qb)))
                (i32.add (local.get $xsb) (i32.shl (i32.mul (local.get $i) (local.get $nb)) (i32.const 2)))
                (local.get $nb) (local.get $sstep) (local.get $xi) (local.get $t) (local.get $cols) (local.get $srow)
                (i32.const 4)))
            (else
              (call $q8row1 (local.get $d) (local.get $wr) (local.get $sr)
                (i32.add (local.get $scr) (i32.mul (local.get $i) (local.get $qb)))
                (i32.add (local.get $xsb) (i32.shl (i32.mul (local.get $i) (local.get $nb)) (i32.const 2)))
                (local.get $nb) (local.get $sstep) (local.get $xi) (local.get $t))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $il (i32.lt_s (local.get $i) (local.get $ie))))
        ;; a full block advances 4 rows, a leftover row 1
        (local.set $r (i32.add (local.get $r)
          (select (i32.const 4) (i32.const 1) (i32.le_s (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))))
        (br_if $rl (i32.lt_s (local.get $r) (local.get $rows))))
      (local.set $i0 (local.get $ie))
      (br_if $pl (i32.lt_s (local.get $i0) (local.get $n)))))

  ;; ---------------------------------------------------------------------
  ;; matvec_t(dst, w, x, rows, cols): dst += Wᵀ·x, W (rows, cols):
  ;;   dst[c] += sum_r w[r*cols+c] * x[r]
  ;; (attention's probability-weighted sum of value rows). An attention
  ;; head's 64 columns take one pass with 16 accumulators (a few spill), so
  ;; each value row is read once, in order: from memory that is ~1.7x the
  ;; two 32-column passes, which read every row twice, half of it each time
  ;; (bloom-560m decode at 350 positions, Node 20: 3.2 -> 1.9 ms per token).
  ;; Other widths: passes over 32 columns at a time keep 8 accumulators in
  ;; registers while all rows stream by; then 4-column passes, then scalar
  ;; columns.
  (func $matvec_t (export "matvec_t") (param $dst i32) (param $w i32) (param $x i32) (param $rows i32) (param $cols i32)
    (local $cb i32) (local $c i32) (local $dp i32) (local $wp i32) (local $xp i32) (local $xe i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128) (local $xv v128) (local $sc f32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $c4 v128) (local $c5 v128) (local $c6 v128) (local $c7 v128) (local $c8 v128) (local $c9 v128) (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128) (local $c14 v128) (local $c15 v128)
    (local.set $cb (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $xe (i32.add (local.get $x) (i32.shl (local.get $rows) (i32.const 2))))
    (if (i32.le_s (local.get $rows) (i32.const 0)) (then (return)))
    ;; 64 columns: one pass, each row read once
    (if (i32.eq (local.get $cols) (i32.const 64))
      (then
        (local.set $c0 (v128.load offset=0 (local.get $dst)))
        (local.set $c1 (v128.load offset=16 (local.get $dst)))
        (local.set $c2 (v128.load offset=32 (local.get $dst)))
        (local.set $c3 (v128.load offset=48 (local.get $dst)))
        (local.set $c4 (v128.load offset=64 (local.get $dst)))
        (local.set $c5 (v128.load offset=80 (local.get $dst)))
        (local.set $c6 (v128.load offset=96 (local.get $dst)))
        (local.set $c7 (v128.load offset=112 (local.get $dst)))
        (local.set $c8 (v128.load offset=128 (local.get $dst)))
        (local.set $c9 (v128.load offset=144 (local.get $dst)))
        (local.set $c10 (v128.load offset=160 (local.get $dst)))
        (local.set $c11 (v128.load offset=176 (local.get $dst)))
        (local.set $c12 (v128.load offset=192 (local.get $dst)))
        (local.set $c13 (v128.load offset=208 (local.get $dst)))
        (local.set $c14 (v128.load offset=224 (local.get $dst)))
        (local.set $c15 (v128.load offset=240 (local.get $dst)))
        (local.set $wp (local.get $w))
        (local.set $xp (local.get $x))
        (loop $r64
            (local.set $xv (v128.load32_splat (local.get $xp)))
            (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $wp)))))
            (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $wp)))))
            (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $wp)))))
            (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $wp)))))
            (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $xv) (v128.load offset=64 (local.get $wp)))))
            (local.set $c5 (f32x4.add (local.get $c5) (f32x4.mul (local.get $xv) (v128.load offset=80 (local.get $wp)))))
            (local.set $c6 (f32x4.add (local.get $c6) (f32x4.mul (local.get $xv) (v128.load offset=96 (local.get $wp)))))
            (local.set $c7 (f32x4.add (local.get $c7) (f32x4.mul (local.get $xv) (v128.load offset=112 (local.get $wp)))))
            (local.set $c8 (f32x4.add (local.get $c8) (f32x4.mul (local.get $xv) (v128.load offset=128 (local.get $wp)))))
            (local.set $c9 (f32x4.add (local.get $c9) (f32x4.mul (local.get $xv) (v128.load offset=144 (local.get $wp)))))
            (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $xv) (v128.load offset=160 (local.get $wp)))))
            (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $xv) (v128.load offset=176 (local.get $wp)))))
            (local.set $c12 (f32x4.add (local.get $c12) (f32x4.mul (local.get $xv) (v128.load offset=192 (local.get $wp)))))
            (local.set $c13 (f32x4.add (local.get $c13) (f32x4.mul (local.get $xv) (v128.load offset=208 (local.get $wp)))))
            (local.set $c14 (f32x4.add (local.get $c14) (f32x4.mul (local.get $xv) (v128.load offset=224 (local.get $wp)))))
            (local.set $c15 (f32x4.add (local.get $c15) (f32x4.mul (local.get $xv) (v128.load offset=240 (local.get $wp)))))
            (local.set $wp (i32.add (local.get $wp) (i32.const 256)))
            (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
            (br_if $r64 (i32.lt_u (local.get $xp) (local.get $xe))))
        (v128.store offset=0 (local.get $dst) (local.get $c0))
        (v128.store offset=16 (local.get $dst) (local.get $c1))
        (v128.store offset=32 (local.get $dst) (local.get $c2))
        (v128.store offset=48 (local.get $dst) (local.get $c3))
        (v128.store offset=64 (local.get $dst) (local.get $c4))
        (v128.store offset=80 (local.get $dst) (local.get $c5))
        (v128.store offset=96 (local.get $dst) (local.get $c6))
        (v128.store offset=112 (local.get $dst) (local.get $c7))
        (v128.store offset=128 (local.get $dst) (local.get $c8))
        (v128.store offset=144 (local.get $dst) (local.get $c9))
        (v128.store offset=160 (local.get $dst) (local.get $c10))
        (v128.store offset=176 (local.get $dst) (local.get $c11))
        (v128.store offset=192 (local.get $dst) (local.get $c12))
        (v128.store offset=208 (local.get $dst) (local.get $c13))
        (v128.store offset=224 (local.get $dst) (local.get $c14))
        (v128.store offset=240 (local.get $dst) (local.get $c15))
        (return)))
    ;; 32-column passes
    (block $d32
      (br_if $d32 (i32.gt_s (i32.add (local.get $c) (i32.const 32)) (local.get $cols)))
      (loop $l32
        (local.set $dp (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $a0 (v128.load offset=0 (local.get $dp)))
        (local.set $a1 (v128.load offset=16 (local.get $dp)))
        (local.set $a2 (v128.load offset=32 (local.get $dp)))
        (local.set $a3 (v128.load offset=48 (local.get $dp)))
        (local.set $a4 (v128.load offset=64 (local.get $dp)))
        (local.set $a5 (v128.load offset=80 (local.get $dp)))
        (local.set $a6 (v128.load offset=96 (local.get $dp)))
        (local.set $a7 (v128.load offset=112 (local.get $dp)))
        (local.set $wp (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $xp (local.get $x))
        (loop $rl
            (local.set $xv (v128.load32_splat (local.get $xp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $wp)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $wp)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $wp)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $wp)))))
            (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $xv) (v128.load offset=64 (local.get $wp)))))
            (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $xv) (v128.load offset=80 (local.get $wp)))))
            (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $xv) (v128.load offset=96 (local.get $wp)))))
            (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $xv) (v128.load offset=112 (local.get $wp)))))
            (local.set $wp (i32.add (local.get $wp) (local.get $cb)))
            (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
            (br_if $rl (i32.lt_u (local.get $xp) (local.get $xe))))
        (v128.store offset=0 (local.get $dp) (local.get $a0))
        (v128.store offset=16 (local.get $dp) (local.get $a1))
        (v128.store offset=32 (local.get $dp) (local.get $a2))
        (v128.store offset=48 (local.get $dp) (local.get $a3))
        (v128.store offset=64 (local.get $dp) (local.get $a4))
        (v128.store offset=80 (local.get $dp) (local.get $a5))
        (v128.store offset=96 (local.get $dp) (local.get $a6))
        (v128.store offset=112 (local.get $dp) (local.get $a7))
        (local.set $c (i32.add (local.get $c) (i32.const 32)))
        (br_if $l32 (i32.le_s (i32.add (local.get $c) (i32.const 32)) (local.get $cols)))))
    ;; 4-column passes
    (block $d4
      (br_if $d4 (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
      (loop $l4
        (local.set $dp (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $a0 (v128.load (local.get $dp)))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $wp (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $xp (local.get $x))
        ;; two rows per step into two accumulators
        (block $rd2
          (br_if $rd2 (i32.gt_u (i32.add (local.get $xp) (i32.const 8)) (local.get $xe)))
          (loop $rl2
            (local.set $a0 (f32x4.add (local.get $a0)
              (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $wp)))))
            (local.set $a1 (f32x4.add (local.get $a1)
              (f32x4.mul (v128.load32_splat offset=4 (local.get $xp)) (v128.load (i32.add (local.get $wp) (local.get $cb))))))
            (local.set $wp (i32.add (local.get $wp) (i32.shl (local.get $cb) (i32.const 1))))
            (local.set $xp (i32.add (local.get $xp) (i32.const 8)))
            (br_if $rl2 (i32.le_u (i32.add (local.get $xp) (i32.const 8)) (local.get $xe)))))
        (if (i32.lt_u (local.get $xp) (local.get $xe))
          (then
            (local.set $a0 (f32x4.add (local.get $a0)
              (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $wp)))))))
        (v128.store (local.get $dp) (f32x4.add (local.get $a0) (local.get $a1)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br_if $l4 (i32.le_s (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))))
    ;; scalar columns
    (block $d1
      (br_if $d1 (i32.ge_s (local.get $c) (local.get $cols)))
      (loop $l1
        (local.set $dp (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $sc (f32.load (local.get $dp)))
        (local.set $wp (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $xp (local.get $x))
        (loop $rl1
          (local.set $sc (f32.add (local.get $sc) (f32.mul (f32.load (local.get $xp)) (f32.load (local.get $wp)))))
          (local.set $wp (i32.add (local.get $wp) (local.get $cb)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
          (br_if $rl1 (i32.lt_u (local.get $xp) (local.get $xe))))
        (f32.store (local.get $dp) (local.get $sc))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br_if $l1 (i32.lt_s (local.get $c) (local.get $cols))))))

  ;; ---------------------------------------------------------------------
  ;; Elementwise exp and GELU.

  ;; $exp4(x) -> e^x per lane, f32 (Cephes expf: x = n·ln2 + r, |r| <= ln2/2,
  ;; degree-7 polynomial, 2^n built in the exponent bits in two halves so
  ;; n = 128 works); max error about 2 ulp. Below -87.336 (2^-126) the result
  ;; flushes to 0, above 88.7228 it is +Inf; NaN stays NaN.
  (func $exp4 (param $x v128) (result v128)
    (local $c v128) (local $n v128) (local $r v128) (local $p v128) (local $ni v128) (local $n1 v128)
    ;; pmax/pmin (one maxps/minps each; f32x4.max/min cost ~6 instructions
    ;; on x64 for their NaN and -0 rules): NaN still propagates (x < lo is false)
    (local.set $c (f32x4.pmin (f32x4.pmax (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))
                              (v128.const f32x4 88.72283 88.72283 88.72283 88.72283)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $c)
      (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    (local.set $r (f32x4.sub (local.get $c) (f32x4.mul (local.get $n)
      (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n)
      (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    ;; p·2^n = p·2^n1·2^(n-n1), n1 = n>>1 (n in [-126, 128]); n to int32 by
    ;; adding 1.5·2^23 (exact for |n| < 2^22) instead of i32x4.trunc_sat,
    ;; which x64 V8 expands to ~10 instructions
    (local.set $ni (i32x4.sub
      (f32x4.add (local.get $n) (v128.const f32x4 12582912 12582912 12582912 12582912))
      (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)))
    (local.set $n1 (i32x4.shr_s (local.get $ni) (i32.const 1)))
    (local.set $p (f32x4.mul (f32x4.mul (local.get $p)
        (i32x4.shl (i32x4.add (local.get $n1) (v128.const i32x4 127 127 127 127)) (i32.const 23)))
        (i32x4.shl (i32x4.add (i32x4.sub (local.get $ni) (local.get $n1)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
    (local.set $p (v128.andnot (local.get $p)
      (f32x4.lt (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))))
    (v128.bitselect (v128.const f32x4 inf inf inf inf) (local.get $p)
      (f32x4.gt (local.get $x) (v128.const f32x4 88.72283 88.72283 88.72283 88.72283))))

  ;; exp_shift(x, n, m) -> sum: x[i] = e^(x[i]-m) in place; returns the f32
  ;; sum of the new values (a softmax numerator and normaliser).
  (func $exp_shift (export "exp_shift") (param $x i32) (param $n i32) (param $m f32) (result f32)
    (local $e4 i32) (local $end i32) (local $mv v128) (local $v v128) (local $s v128) (local $t f32) (local $sum f32)
    (local.set $mv (f32x4.splat (local.get $m)))
    (local.set $e4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $d4
      (br_if $d4 (i32.ge_u (local.get $x) (local.get $e4)))
      (loop $l4
        (local.set $v (call $exp4 (f32x4.sub (v128.load (local.get $x)) (local.get $mv))))
        (v128.store (local.get $x) (local.get $v))
        (local.set $s (f32x4.add (local.get $s) (local.get $v)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $l4 (i32.lt_u (local.get $x) (local.get $e4)))))
    (local.set $sum (call $hsum (local.get $s)))
    (block $d1
      (br_if $d1 (i32.ge_u (local.get $x) (local.get $end)))
      (loop $l1
        (local.set $t (f32x4.extract_lane 0 (call $exp4 (f32x4.splat (f32.sub (f32.load (local.get $x)) (local.get $m))))))
        (f32.store (local.get $x) (local.get $t))
        (local.set $sum (f32.add (local.get $sum) (local.get $t)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br_if $l1 (i32.lt_u (local.get $x) (local.get $end)))))
    (local.get $sum))

  ;; $gelu4(x) = 0.5·x·(1 + tanh(u)), u = 0.79788456·x·(1 + 0.044715·x²),
  ;; computed as x / (1 + e^(-2u)) (the same function; no cancellation in
  ;; 1 + tanh for negative x).
  (func $gelu4 (param $x v128) (result v128)
    (local $u v128)
    (local.set $u (f32x4.mul (local.get $x)
      (f32x4.add (v128.const f32x4 0.7978845608028654 0.7978845608028654 0.7978845608028654 0.7978845608028654)
        (f32x4.mul (v128.const f32x4 0.035677408136300125 0.035677408136300125 0.035677408136300125 0.035677408136300125)
          (f32x4.mul (local.get $x) (local.get $x))))))
    (f32x4.div (local.get $x)
      (f32x4.add (v128.const f32x4 1 1 1 1)
        (call $exp4 (f32x4.mul (local.get $u) (v128.const f32x4 -2 -2 -2 -2))))))

  ;; gelu_tanh(x, n): x[i] = gelu(x[i]) in place (BLOOM's tanh form): $gelu4
  ;; with $exp4 written out in the loop, two vectors per step (V8 11.3 does
  ;; not inline wasm calls: the call per vector cost ~40% of the time).
  ;; Same operations as $gelu4, so the same results bit for bit.
  (func (export "gelu_tanh") (param $x i32) (param $n i32)
    (local $e8 i32) (local $end i32)
    (local $c0 v128) (local $n0 v128) (local $r0 v128) (local $p0 v128) (local $ni0 v128) (local $n10 v128) (local $ein0 v128) (local $e0 v128) (local $u0 v128) (local $v0 v128)
    (local $c1 v128) (local $n1 v128) (local $r1 v128) (local $p1 v128) (local $ni1 v128) (local $n11 v128) (local $ein1 v128) (local $e1 v128) (local $u1 v128) (local $v1 v128)
    (local.set $e8 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $d8
      (br_if $d8 (i32.ge_u (local.get $x) (local.get $e8)))
      (loop $l8
        (local.set $v0 (v128.load offset=0 (local.get $x)))
        (local.set $u0 (f32x4.mul (local.get $v0)
          (f32x4.add (v128.const f32x4 0.7978845608028654 0.7978845608028654 0.7978845608028654 0.7978845608028654)
            (f32x4.mul (v128.const f32x4 0.035677408136300125 0.035677408136300125 0.035677408136300125 0.035677408136300125)
              (f32x4.mul (local.get $v0) (local.get $v0))))))
        (local.set $ein0 (f32x4.mul (local.get $u0) (v128.const f32x4 -2 -2 -2 -2)))
        (local.set $v1 (v128.load offset=16 (local.get $x)))
        (local.set $u1 (f32x4.mul (local.get $v1)
          (f32x4.add (v128.const f32x4 0.7978845608028654 0.7978845608028654 0.7978845608028654 0.7978845608028654)
            (f32x4.mul (v128.const f32x4 0.035677408136300125 0.035677408136300125 0.035677408136300125 0.035677408136300125)
              (f32x4.mul (local.get $v1) (local.get $v1))))))
        (local.set $ein1 (f32x4.mul (local.get $u1) (v128.const f32x4 -2 -2 -2 -2)))
        (local.set $c0 (f32x4.pmin (f32x4.pmax (local.get $ein0) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))
                                  (v128.const f32x4 88.72283 88.72283 88.72283 88.72283)))
        (local.set $n0 (f32x4.nearest (f32x4.mul (local.get $c0)
          (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
        (local.set $r0 (f32x4.sub (local.get $c0) (f32x4.mul (local.get $n0)
          (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
        (local.set $r0 (f32x4.sub (local.get $r0) (f32x4.mul (local.get $n0)
          (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
        (local.set $p0 (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r0))
          (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $r0))
          (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $r0))
          (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $r0))
          (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $r0))
          (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
        (local.set $p0 (f32x4.add
          (f32x4.add (f32x4.mul (local.get $p0) (f32x4.mul (local.get $r0) (local.get $r0))) (local.get $r0))
          (v128.const f32x4 1 1 1 1)))
        (local.set $ni0 (i32x4.sub
          (f32x4.add (local.get $n0) (v128.const f32x4 12582912 12582912 12582912 12582912))
          (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)))
        (local.set $n10 (i32x4.shr_s (local.get $ni0) (i32.const 1)))
        (local.set $p0 (f32x4.mul (f32x4.mul (local.get $p0)
            (i32x4.shl (i32x4.add (local.get $n10) (v128.const i32x4 127 127 127 127)) (i32.const 23)))
            (i32x4.shl (i32x4.add (i32x4.sub (local.get $ni0) (local.get $n10)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
        (local.set $p0 (v128.andnot (local.get $p0)
          (f32x4.lt (local.get $ein0) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))))
        
        (local.set $e0 (v128.bitselect (v128.const f32x4 inf inf inf inf) (local.get $p0)
          (f32x4.gt (local.get $ein0) (v128.const f32x4 88.72283 88.72283 88.72283 88.72283))))
        (local.set $c1 (f32x4.pmin (f32x4.pmax (local.get $ein1) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))
                                  (v128.const f32x4 88.72283 88.72283 88.72283 88.72283)))
        (local.set $n11 (f32x4.nearest (f32x4.mul (local.get $c1)
          (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
        (local.set $r1 (f32x4.sub (local.get $c1) (f32x4.mul (local.get $n11)
          (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
        (local.set $r1 (f32x4.sub (local.get $r1) (f32x4.mul (local.get $n11)
          (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
        (local.set $p1 (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r1))
          (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
          (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
          (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
          (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
          (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
        (local.set $p1 (f32x4.add
          (f32x4.add (f32x4.mul (local.get $p1) (f32x4.mul (local.get $r1) (local.get $r1))) (local.get $r1))
          (v128.const f32x4 1 1 1 1)))
        (local.set $ni1 (i32x4.sub
          (f32x4.add (local.get $n11) (v128.const f32x4 12582912 12582912 12582912 12582912))
          (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)))
        (local.set $n11 (i32x4.shr_s (local.get $ni1) (i32.const 1)))
        (local.set $p1 (f32x4.mul (f32x4.mul (local.get $p1)
            (i32x4.shl (i32x4.add (local.get $n11) (v128.const i32x4 127 127 127 127)) (i32.const 23)))
            (i32x4.shl (i32x4.add (i32x4.sub (local.get $ni1) (local.get $n11)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
        (local.set $p1 (v128.andnot (local.get $p1)
          (f32x4.lt (local.get $ein1) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))))
        
        (local.set $e1 (v128.bitselect (v128.const f32x4 inf inf inf inf) (local.get $p1)
          (f32x4.gt (local.get $ein1) (v128.const f32x4 88.72283 88.72283 88.72283 88.72283))))
        (v128.store offset=0 (local.get $x) (f32x4.div (local.get $v0) (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $e0))))
        (v128.store offset=16 (local.get $x) (f32x4.div (local.get $v1) (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $e1))))
        (local.set $x (i32.add (local.get $x) (i32.const 32)))
        (br_if $l8 (i32.lt_u (local.get $x) (local.get $e8)))))
    ;; the rest: whole vectors, then single lanes, through $gelu4
    (block $d4
      (br_if $d4 (i32.gt_u (i32.add (local.get $x) (i32.const 16)) (local.get $end)))
      (v128.store (local.get $x) (call $gelu4 (v128.load (local.get $x))))
      (local.set $x (i32.add (local.get $x) (i32.const 16))))
    (block $d1
      (br_if $d1 (i32.ge_u (local.get $x) (local.get $end)))
      (loop $l1
        (f32.store (local.get $x) (f32x4.extract_lane 0 (call $gelu4 (f32x4.splat (f32.load (local.get $x))))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br_if $l1 (i32.lt_u (local.get $x) (local.get $end))))))

  ;; ---------------------------------------------------------------------
  ;; alibi_scores(dst, k, q, rows, cols, scale, slope, off) -> max:
  ;;   dst[r] = scale * dot(k[r*cols:], q) + slope * f32(r + off)
  ;; (a block of ALiBi attention scores: off = j0 - p, so the bias is
  ;; -slope*(p - j)); returns the maximum of dst (-Inf when rows == 0).
  ;; matvec, then one pass over dst (in L1) for the bias and the maximum.
  (func $alibi_scores (export "alibi_scores") (param $dst i32) (param $k i32) (param $q i32) (param $rows i32) (param $cols i32)
      (param $scale f32) (param $slope f32) (param $off i32) (result f32)
    (local $p i32) (local $e4 i32) (local $end i32) (local $sv v128) (local $lv v128) (local $jv v128)
    (local $m v128) (local $v v128) (local $t f32) (local $mx f32)
    (call $matvec (local.get $dst) (local.get $k) (local.get $q) (local.get $rows) (local.get $cols))
    (local.set $sv (f32x4.splat (local.get $scale)))
    (local.set $lv (f32x4.splat (local.get $slope)))
    (local.set $jv (i32x4.add (i32x4.splat (local.get $off)) (v128.const i32x4 0 1 2 3)))
    (local.set $m (v128.const f32x4 -inf -inf -inf -inf))
    (local.set $p (local.get $dst))
    (local.set $e4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $rows) (i32.const -4)) (i32.const 2))))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $rows) (i32.const 2))))
    (block $d4
      (br_if $d4 (i32.ge_u (local.get $p) (local.get $e4)))
      (loop $l4
        (local.set $v (f32x4.add (f32x4.mul (v128.load (local.get $p)) (local.get $sv))
          (f32x4.mul (local.get $lv) (f32x4.convert_i32x4_s (local.get $jv)))))
        (v128.store (local.get $p) (local.get $v))
        (local.set $m (f32x4.max (local.get $m) (local.get $v)))
        (local.set $jv (i32x4.add (local.get $jv) (v128.const i32x4 4 4 4 4)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br_if $l4 (i32.lt_u (local.get $p) (local.get $e4)))))
    (local.set $m (f32x4.max (local.get $m)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m))))
    (local.set $mx (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m))))
    (local.set $off (i32x4.extract_lane 0 (local.get $jv)))
    (block $d1
      (br_if $d1 (i32.ge_u (local.get $p) (local.get $end)))
      (loop $l1
        (local.set $t (f32.add (f32.mul (f32.load (local.get $p)) (local.get $scale))
          (f32.mul (local.get $slope) (f32.convert_i32_s (local.get $off)))))
        (f32.store (local.get $p) (local.get $t))
        (local.set $mx (f32.max (local.get $mx) (local.get $t)))
        (local.set $off (i32.add (local.get $off) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br_if $l1 (i32.lt_u (local.get $p) (local.get $end)))))
    (local.get $mx))

  ;; attend_heads(out, q, k, v, sc, nh, d, npos, hstride, scale, slopes, sclen):
  ;; one decode step's ALiBi attention for nh heads of width d over npos
  ;; cached positions, head h's query at q+4hd, keys and values at k, v +
  ;; 4h*hstride ((npos, d) rows), slope at slopes+4h, output at out+4hd.
  ;; Per head, exactly kernels.AttendHeads' sequence: alibi_scores into sc
  ;; (the bias -slope*(npos-1-j)), exp_shift by the maximum (-Inf unless
  ;; that is larger), out = 0, matvec_t, out *= 1/sum. sclen (floats in sc)
  ;; must cover npos; kernel threads give each thread its own npos floats.
  ;; One call per layer instead of four per head, and the unit kernel
  ;; threads split (by heads).
  (func (export "attend_heads") (param $out i32) (param $q i32) (param $k i32) (param $v i32) (param $sc i32)
      (param $nh i32) (param $d i32) (param $npos i32) (param $hstride i32) (param $scale f32) (param $slopes i32)
      (param $sclen i32)
    (local $hb i32) (local $db i32) (local $e i32) (local $p i32) (local $mx f32) (local $inv f32) (local $iv v128)
    (if (i32.or (i32.le_s (local.get $nh) (i32.const 0)) (i32.le_s (local.get $npos) (i32.const 0))) (then (return)))
    (if (i32.gt_s (local.get $npos) (local.get $sclen)) (then (unreachable)))
    (local.set $hb (i32.shl (local.get $hstride) (i32.const 2)))
    (local.set $db (i32.shl (local.get $d) (i32.const 2)))
    (loop $h
      (local.set $mx (call $alibi_scores (local.get $sc) (local.get $k) (local.get $q) (local.get $npos) (local.get $d)
        (local.get $scale) (f32.load (local.get $slopes)) (i32.sub (i32.const 1) (local.get $npos))))
      ;; the online softmax's start: the maximum is -Inf unless the block's is larger
      (local.set $mx (select (local.get $mx) (f32.const -inf) (f32.gt (local.get $mx) (f32.const -inf))))
      (local.set $inv (f32.div (f32.const 1)
        (call $exp_shift (local.get $sc) (local.get $npos) (local.get $mx))))
      (local.set $e (i32.add (local.get $out) (local.get $db)))
      (local.set $p (local.get $out))
      (loop $z
        (f32.store (local.get $p) (f32.const 0))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br_if $z (i32.lt_u (local.get $p) (local.get $e))))
      (call $matvec_t (local.get $out) (local.get $v) (local.get $sc) (local.get $npos) (local.get $d))
      (local.set $iv (f32x4.splat (local.get $inv)))
      (local.set $p (local.get $out))
      (block $s4
        (loop $l4
          (br_if $s4 (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $e)))
          (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (local.get $iv)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br $l4)))
      (block $s1
        (loop $l1
          (br_if $s1 (i32.ge_u (local.get $p) (local.get $e)))
          (f32.store (local.get $p) (f32.mul (f32.load (local.get $p)) (local.get $inv)))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br $l1)))
      (local.set $out (local.get $e))
      (local.set $q (i32.add (local.get $q) (local.get $db)))
      (local.set $k (i32.add (local.get $k) (local.get $hb)))
      (local.set $v (i32.add (local.get $v) (local.get $hb)))
      (local.set $slopes (i32.add (local.get $slopes) (i32.const 4)))
      (local.set $nh (i32.sub (local.get $nh) (i32.const 1)))
      (br_if $h (i32.gt_s (local.get $nh) (i32.const 0)))))

  ;; ---------------------------------------------------------------------
  ;; loading: F16 -> f32 and int8 quantization (the loader's inner loops)

  ;; $h2f(h) -> f32 bits of the binary16 h (i32x4 lanes of 16-bit values):
  ;; (h&0x7fff)<<13 read as f32 times 2^112 is exact for normals and
  ;; subnormals; exponent 31 (Inf/NaN) becomes 0x7f800000|mant<<13; then the
  ;; sign. Same bits as safetensors.F16ToF32 for every input.
  (func $h2f (param $h v128) (result v128)
    (local $a v128)
    (local.set $a (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (i32.const 13)))
    (v128.or
      (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16))
      (v128.bitselect
        (v128.or (local.get $a) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
        (f32x4.mul (local.get $a) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
        (i32x4.eq (v128.and (local.get $h) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))
                  (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))))

  ;; f16_to_f32(dst, src, n): dst[i] = float32 of the little-endian binary16
  ;; at src+2i, 8 per step; the tail goes through the same code one lane at a time.
  ;; The 8-wide loop is $h2f written out, with the masks taken on the eight
  ;; 16-bit lanes before widening (no call per four values).
  (func (export "f16_to_f32") (param $dst i32) (param $src i32) (param $n i32)
    (local $end i32) (local $v v128) (local $a v128) (local $m v128) (local $s v128) (local $w v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 1))))
    (block $d8
      (br_if $d8 (i32.ge_u (local.get $src) (local.get $end)))
      (loop $l8
        (local.set $v (v128.load (local.get $src)))
        (local.set $a (v128.and (local.get $v) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $s (v128.and (local.get $v) (v128.const i16x8 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000)))
        (local.set $m (i16x8.eq (v128.and (local.get $v) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))
                                (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00)))
        (local.set $w (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a)) (i32.const 13)))
        (v128.store (local.get $dst)
          (v128.or
            (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $s)) (i32.const 16))
            (v128.bitselect
              (v128.or (local.get $w) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
              (f32x4.mul (local.get $w) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
              (i32x4.extend_low_i16x8_s (local.get $m)))))
        (local.set $w (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a)) (i32.const 13)))
        (v128.store offset=16 (local.get $dst)
          (v128.or
            (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $s)) (i32.const 16))
            (v128.bitselect
              (v128.or (local.get $w) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
              (f32x4.mul (local.get $w) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
              (i32x4.extend_high_i16x8_s (local.get $m)))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (br_if $l8 (i32.lt_u (local.get $src) (local.get $end)))))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 7)) (i32.const 1))))
    (block $d1
      (br_if $d1 (i32.ge_u (local.get $src) (local.get $end)))
      (loop $l1
        (f32.store (local.get $dst) (f32x4.extract_lane 0
          (call $h2f (i32x4.splat (i32.load16_u (local.get $src))))))
        (local.set $src (i32.add (local.get $src) (i32.const 2)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br_if $l1 (i32.lt_u (local.get $src) (local.get $end))))))

  ;; quantize_q8(q, s, w, nb): kernels.QuantizeQ8 for nb blocks of 32
  ;; weights: s[b] = max|w| / 127 over the block (NaNs ignored, as the Go
  ;; loop's comparison does), q = round(w * (1/s[b])) (0 when s[b] == 0).
  ;; Each round(p) below, written out for four lanes at a time (a call per
  ;; four values cost more than the work), is round-half-away-from-zero (Go's
  ;; math.Round): nearest (half to even) everywhere but exact ties, which
  ;; move away from zero: t = trunc(p); |p - t| == 0.5 ? t + copysign(1, p)
  ;; : nearest(p). |p| < 2^23, so p - trunc(p) is exact.
  (func (export "quantize_q8") (param $q i32) (param $s i32) (param $w i32) (param $nb i32)
    (local $end i32) (local $m v128) (local $sc f32) (local $inv v128) (local $p v128) (local $t v128)
    (local.set $end (i32.add (local.get $s) (i32.shl (local.get $nb) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
      (loop $l
        ;; pmax(a, b) = a < b ? b : a keeps a when b is NaN
        (local.set $m (f32x4.pmax
          (f32x4.pmax
            (f32x4.pmax (f32x4.pmax (v128.const f32x4 0 0 0 0) (f32x4.abs (v128.load (local.get $w))))
                        (f32x4.abs (v128.load offset=16 (local.get $w))))
            (f32x4.pmax (f32x4.pmax (v128.const f32x4 0 0 0 0) (f32x4.abs (v128.load offset=32 (local.get $w))))
                        (f32x4.abs (v128.load offset=48 (local.get $w)))))
          (f32x4.pmax
            (f32x4.pmax (f32x4.pmax (v128.const f32x4 0 0 0 0) (f32x4.abs (v128.load offset=64 (local.get $w))))
                        (f32x4.abs (v128.load offset=80 (local.get $w))))
            (f32x4.pmax (f32x4.pmax (v128.const f32x4 0 0 0 0) (f32x4.abs (v128.load offset=96 (local.get $w))))
                        (f32x4.abs (v128.load offset=112 (local.get $w)))))))
        (local.set $m (f32x4.pmax (local.get $m)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m))))
        (local.set $m (f32x4.pmax (local.get $m)
          (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $m) (local.get $m))))
        (local.set $sc (f32.div (f32x4.extract_lane 0 (local.get $m)) (f32.const 127)))
        (f32.store (local.get $s) (local.get $sc))
        (local.set $inv (f32x4.splat (select (f32.div (f32.const 1) (local.get $sc)) (f32.const 0)
                                             (f32.ne (local.get $sc) (f32.const 0)))))
        (v128.store (local.get $q) (i8x16.narrow_i16x8_s
          (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (v128.bitselect (f32x4.add (local.tee $t (f32x4.trunc (local.tee $p (f32x4.mul (v128.load (local.get $w)) (local.get $inv))))) (v128.or (v128.const f32x4 1 1 1 1) (v128.and (local.get $p) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))) (f32x4.nearest (local.get $p)) (f32x4.eq (f32x4.abs (f32x4.sub (local.get $p) (local.get $t))) (v128.const f32x4 0.5 0.5 0.5 0.5))))
            (i32x4.trunc_sat_f32x4_s (v128.bitselect (f32x4.add (local.tee $t (f32x4.trunc (local.tee $p (f32x4.mul (v128.load offset=16 (local.get $w)) (local.get $inv))))) (v128.or (v128.const f32x4 1 1 1 1) (v128.and (local.get $p) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))) (f32x4.nearest (local.get $p)) (f32x4.eq (f32x4.abs (f32x4.sub (local.get $p) (local.get $t))) (v128.const f32x4 0.5 0.5 0.5 0.5)))))
          (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (v128.bitselect (f32x4.add (local.tee $t (f32x4.trunc (local.tee $p (f32x4.mul (v128.load offset=32 (local.get $w)) (local.get $inv))))) (v128.or (v128.const f32x4 1 1 1 1) (v128.and (local.get $p) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))) (f32x4.nearest (local.get $p)) (f32x4.eq (f32x4.abs (f32x4.sub (local.get $p) (local.get $t))) (v128.const f32x4 0.5 0.5 0.5 0.5))))
            (i32x4.trunc_sat_f32x4_s (v128.bitselect (f32x4.add (local.tee $t (f32x4.trunc (local.tee $p (f32x4.mul (v128.load offset=48 (local.get $w)) (local.get $inv))))) (v128.or (v128.const f32x4 1 1 1 1) (v128.and (local.get $p) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))) (f32x4.nearest (local.get $p)) (f32x4.eq (f32x4.abs (f32x4.sub (local.get $p) (local.get $t))) (v128.const f32x4 0.5 0.5 0.5 0.5)))))))
        (v128.store offset=16 (local.get $q) (i8x16.narrow_i16x8_s
          (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (v128.bitselect (f32x4.add (local.tee $t (f32x4.trunc (local.tee $p (f32x4.mul (v128.load offset=64 (local.get $w)) (local.get $inv))))) (v128.or (v128.const f32x4 1 1 1 1) (v128.and (local.get $p) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))) (f32x4.nearest (local.get $p)) (f32x4.eq (f32x4.abs (f32x4.sub (local.get $p) (local.get $t))) (v128.const f32x4 0.5 0.5 0.5 0.5))))
            (i32x4.trunc_sat_f32x4_s (v128.bitselect (f32x4.add (local.tee $t (f32x4.trunc (local.tee $p (f32x4.mul (v128.load offset=80 (local.get $w)) (local.get $inv))))) (v128.or (v128.const f32x4 1 1 1 1) (v128.and (local.get $p) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))) (f32x4.nearest (local.get $p)) (f32x4.eq (f32x4.abs (f32x4.sub (local.get $p) (local.get $t))) (v128.const f32x4 0.5 0.5 0.5 0.5)))))
          (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (v128.bitselect (f32x4.add (local.tee $t (f32x4.trunc (local.tee $p (f32x4.mul (v128.load offset=96 (local.get $w)) (local.get $inv))))) (v128.or (v128.const f32x4 1 1 1 1) (v128.and (local.get $p) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))) (f32x4.nearest (local.get $p)) (f32x4.eq (f32x4.abs (f32x4.sub (local.get $p) (local.get $t))) (v128.const f32x4 0.5 0.5 0.5 0.5))))
            (i32x4.trunc_sat_f32x4_s (v128.bitselect (f32x4.add (local.tee $t (f32x4.trunc (local.tee $p (f32x4.mul (v128.load offset=112 (local.get $w)) (local.get $inv))))) (v128.or (v128.const f32x4 1 1 1 1) (v128.and (local.get $p) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))) (f32x4.nearest (local.get $p)) (f32x4.eq (f32x4.abs (f32x4.sub (local.get $p) (local.get $t))) (v128.const f32x4 0.5 0.5 0.5 0.5)))))))
        (local.set $w (i32.add (local.get $w) (i32.const 128)))
        (local.set $q (i32.add (local.get $q) (i32.const 32)))
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (br_if $l (i32.lt_u (local.get $s) (local.get $end))))))

  ;; quantize_q8_f16(q, s, h, nb): quantize_q8 of the f32 images of nb blocks
  ;; of 32 little-endian binary16 values at h (64 bytes per block): the same
  ;; q and s bits as f16_to_f32 followed by quantize_q8, in one pass that
  ;; mostly stays in 16-bit lanes:
  ;; - a = |h| as bits, with NaNs set to 0 (quantize_q8 ignores NaNs in the
  ;;   maximum and rounds NaN * inv to 0; 0 gives both). For the other
  ;;   halves the order of a is the order of |x|, so max|x| is the f32 image
  ;;   of max a (computed once per block: 0x7c00 is +Inf).
  ;; - |x| * inv is the magnitude of x * inv (f32 rounding is symmetric), and
  ;;   round-half-away-from-zero is odd, so q = sign(h) * round(|x| * inv),
  ;;   the sign applied to the 16-bit results as (r ^ m) - m, m = h >> 15.
  ;; - round(p) for p >= 0 is floor(p + 0.49999997f) (0x3effffff, the float
  ;;   below 0.5; checked for every f32 p < 2^24, above which p is an
  ;;   integer). p < 128, so floor(...) + 2^23 is exact and its bits minus
  ;;   those of 2^23 are the integer (cheaper than i32x4.trunc_sat_f32x4_s).
  ;; - Four blocks go per step: their maxima are reduced together and their
  ;;   scales and inverses take one f32x4.div each (the same IEEE divisions
  ;;   per lane as the one-block loop for the nb%4 last blocks).
  ;; - |x| is h2f's product ((a << 13) as f32) * 2^112, exact for normals and
  ;;   subnormals. Inf (a = 0x7c00) gives a finite 65536 here, but a block
  ;;   with an Inf has scale Inf and inv 0, so every q is 0 either way.
  (func (export "quantize_q8_f16") (param $q i32) (param $s i32) (param $h i32) (param $nb i32)
    (local $end i32) (local $m v128) (local $mh i32) (local $sc f32) (local $inv v128) (local $sg v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $inv4 v128) (local $end4 i32)
    ;; groups of four blocks: one vector division for four scales
    (local.set $end4 (i32.add (local.get $s) (i32.shl (i32.and (local.get $nb) (i32.const -4)) (i32.const 2))))
    (block $done4
      (br_if $done4 (i32.ge_u (local.get $s) (local.get $end4)))
      (loop $l4
        ;; block 0: its maximum a
        (local.set $a0 (v128.and (v128.load (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=16 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=32 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=48 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $m0 (i16x8.max_u (i16x8.max_u (local.get $a0) (local.get $a1)) (i16x8.max_u (local.get $a2) (local.get $a3))))
        ;; block 1: its maximum a
        (local.set $a0 (v128.and (v128.load offset=64 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=80 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=96 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=112 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $m1 (i16x8.max_u (i16x8.max_u (local.get $a0) (local.get $a1)) (i16x8.max_u (local.get $a2) (local.get $a3))))
        ;; block 2: its maximum a
        (local.set $a0 (v128.and (v128.load offset=128 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=144 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=160 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=176 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $m2 (i16x8.max_u (i16x8.max_u (local.get $a0) (local.get $a1)) (i16x8.max_u (local.get $a2) (local.get $a3))))
        ;; block 3: its maximum a
        (local.set $a0 (v128.and (v128.load offset=192 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=208 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=224 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=240 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $m3 (i16x8.max_u (i16x8.max_u (local.get $a0) (local.get $a1)) (i16x8.max_u (local.get $a2) (local.get $a3))))
        ;; the four blocks' maxima (transposed reduction) -> 32-bit lanes
        (local.set $m0 (i16x8.max_u
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $m0) (local.get $m1))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $m0) (local.get $m1))))
        (local.set $m2 (i16x8.max_u
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $m2) (local.get $m3))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $m2) (local.get $m3))))
        (local.set $m (i16x8.max_u
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $m0) (local.get $m2))
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $m0) (local.get $m2))))
        (local.set $m (v128.and (v128.const i32x4 0xffff 0xffff 0xffff 0xffff) (i16x8.max_u (local.get $m)
          (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $m) (local.get $m)))))
        ;; scales and inverses of the four blocks, lane by lane as the
        ;; one-block loop below computes them (IEEE f32 lanes)
        (local.set $inv (f32x4.div
          (v128.bitselect (v128.const f32x4 inf inf inf inf)
            (f32x4.mul (i32x4.shl (local.get $m) (i32.const 13)) (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112))
            (i32x4.eq (local.get $m) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))
          (v128.const f32x4 127 127 127 127)))
        (v128.store (local.get $s) (local.get $inv))
        (local.set $inv4 (v128.and (f32x4.div (v128.const f32x4 1 1 1 1) (local.get $inv))
          (f32x4.ne (local.get $inv) (v128.const f32x4 0 0 0 0))))
        ;; block 0: quantize
        (local.set $inv (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $inv4) (local.get $inv4)))
        (local.set $a0 (v128.and (v128.load (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=16 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=32 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=48 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $sg (i16x8.shr_s (v128.load (local.get $h)) (i32.const 15)))
        (local.set $a0 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=16 (local.get $h)) (i32.const 15)))
        (local.set $a1 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store (local.get $q) (i8x16.narrow_i16x8_s (local.get $a0) (local.get $a1)))
        (local.set $sg (i16x8.shr_s (v128.load offset=32 (local.get $h)) (i32.const 15)))
        (local.set $a2 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=48 (local.get $h)) (i32.const 15)))
        (local.set $a3 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store offset=16 (local.get $q) (i8x16.narrow_i16x8_s (local.get $a2) (local.get $a3)))
        ;; block 1: quantize
        (local.set $inv (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $inv4) (local.get $inv4)))
        (local.set $a0 (v128.and (v128.load offset=64 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=80 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=96 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=112 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $sg (i16x8.shr_s (v128.load offset=64 (local.get $h)) (i32.const 15)))
        (local.set $a0 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=80 (local.get $h)) (i32.const 15)))
        (local.set $a1 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store offset=32 (local.get $q) (i8x16.narrow_i16x8_s (local.get $a0) (local.get $a1)))
        (local.set $sg (i16x8.shr_s (v128.load offset=96 (local.get $h)) (i32.const 15)))
        (local.set $a2 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=112 (local.get $h)) (i32.const 15)))
        (local.set $a3 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store offset=48 (local.get $q) (i8x16.narrow_i16x8_s (local.get $a2) (local.get $a3)))
        ;; block 2: quantize
        (local.set $inv (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $inv4) (local.get $inv4)))
        (local.set $a0 (v128.and (v128.load offset=128 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=144 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=160 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=176 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $sg (i16x8.shr_s (v128.load offset=128 (local.get $h)) (i32.const 15)))
        (local.set $a0 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=144 (local.get $h)) (i32.const 15)))
        (local.set $a1 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store offset=64 (local.get $q) (i8x16.narrow_i16x8_s (local.get $a0) (local.get $a1)))
        (local.set $sg (i16x8.shr_s (v128.load offset=160 (local.get $h)) (i32.const 15)))
        (local.set $a2 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=176 (local.get $h)) (i32.const 15)))
        (local.set $a3 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store offset=80 (local.get $q) (i8x16.narrow_i16x8_s (local.get $a2) (local.get $a3)))
        ;; block 3: quantize
        (local.set $inv (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $inv4) (local.get $inv4)))
        (local.set $a0 (v128.and (v128.load offset=192 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=208 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=224 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=240 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $sg (i16x8.shr_s (v128.load offset=192 (local.get $h)) (i32.const 15)))
        (local.set $a0 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=208 (local.get $h)) (i32.const 15)))
        (local.set $a1 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store offset=96 (local.get $q) (i8x16.narrow_i16x8_s (local.get $a0) (local.get $a1)))
        (local.set $sg (i16x8.shr_s (v128.load offset=224 (local.get $h)) (i32.const 15)))
        (local.set $a2 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=240 (local.get $h)) (i32.const 15)))
        (local.set $a3 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store offset=112 (local.get $q) (i8x16.narrow_i16x8_s (local.get $a2) (local.get $a3)))
        (local.set $h (i32.add (local.get $h) (i32.const 256)))
        (local.set $q (i32.add (local.get $q) (i32.const 128)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br_if $l4 (i32.lt_u (local.get $s) (local.get $end4)))))
    ;; the nb%4 last blocks one at a time
    (local.set $end (i32.add (local.get $s) (i32.shl (i32.and (local.get $nb) (i32.const 3)) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
      (loop $l
        (local.set $a0 (v128.and (v128.load (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a0 (v128.andnot (local.get $a0) (i16x8.gt_s (local.get $a0) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a1 (v128.and (v128.load offset=16 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a1 (v128.andnot (local.get $a1) (i16x8.gt_s (local.get $a1) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a2 (v128.and (v128.load offset=32 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a2 (v128.andnot (local.get $a2) (i16x8.gt_s (local.get $a2) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $a3 (v128.and (v128.load offset=48 (local.get $h)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $a3 (v128.andnot (local.get $a3) (i16x8.gt_s (local.get $a3) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $m (i16x8.max_u (i16x8.max_u (local.get $a0) (local.get $a1)) (i16x8.max_u (local.get $a2) (local.get $a3))))
        (local.set $m (i16x8.max_u (local.get $m)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m))))
        (local.set $m (i16x8.max_u (local.get $m)
          (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $m) (local.get $m))))
        (local.set $m (i16x8.max_u (local.get $m)
          (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $m) (local.get $m))))
        (local.set $mh (i16x8.extract_lane_u 0 (local.get $m)))
        (local.set $sc (f32.div
          (select (f32.const inf)
                  (f32.mul (f32.reinterpret_i32 (i32.shl (local.get $mh) (i32.const 13))) (f32.const 0x1p112))
                  (i32.eq (local.get $mh) (i32.const 0x7c00)))
          (f32.const 127)))
        (f32.store (local.get $s) (local.get $sc))
        (local.set $inv (f32x4.splat (select (f32.div (f32.const 1) (local.get $sc)) (f32.const 0)
                                             (f32.ne (local.get $sc) (f32.const 0)))))
        (local.set $sg (i16x8.shr_s (v128.load (local.get $h)) (i32.const 15)))
        (local.set $a0 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a0)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=16 (local.get $h)) (i32.const 15)))
        (local.set $a1 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a1)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store (local.get $q) (i8x16.narrow_i16x8_s (local.get $a0) (local.get $a1)))
        (local.set $sg (i16x8.shr_s (v128.load offset=32 (local.get $h)) (i32.const 15)))
        (local.set $a2 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a2)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (local.set $sg (i16x8.shr_s (v128.load offset=48 (local.get $h)) (i32.const 15)))
        (local.set $a3 (i16x8.sub (v128.xor (local.get $sg) (i16x8.narrow_i32x4_s
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))
            (i32x4.sub (f32x4.add (f32x4.floor (f32x4.add (f32x4.mul (f32x4.mul
              (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $a3)) (i32.const 13))
              (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)) (local.get $inv))
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)))
              (v128.const f32x4 0x1p23 0x1p23 0x1p23 0x1p23)) (v128.const i32x4 0x4b000000 0x4b000000 0x4b000000 0x4b000000))))
          (local.get $sg)))
        (v128.store offset=16 (local.get $q) (i8x16.narrow_i16x8_s (local.get $a2) (local.get $a3)))
        (local.set $h (i32.add (local.get $h) (i32.const 64)))
        (local.set $q (i32.add (local.get $q) (i32.const 32)))
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (br_if $l (i32.lt_u (local.get $s) (local.get $end))))))
)

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// Benchmarks run every size on both paths ("go" and, when the host supplied
// the kernels, "simd") and report GFLOP/s (2 flops per multiply-add). Under
// Node, use a benchtime long enough for V8 to tier the kernels up to TurboFan
// (the default 1s is; -benchtime=100x is not).

func benchPaths(b *testing.B, f func(b *testing.B)) {
	prev := SetSIMD(false)
	defer SetSIMD(prev)
	b.Run("go", f)
	if SetSIMD(true); SIMD() {
		warmSIMD()
		b.Run("simd", f)
	}
}

// benchOp times op b.N times in batches of about 50µs and reports the mean
// rate (work units per second / 1e9, unit name) and the best batch's rate
// ("best-" + unit): on a shared machine the best batch is the one that ran
// without being preempted, the figure to compare kernels by.
func benchOp(b *testing.B, workPerOp float64, unit string, op func()) {
	batch := 1
	for batch < 1<<24 {
		t0 := time.Now()
		for range batch {
			op()
		}
		if time.Since(t0) > 50*time.Microsecond {
			break
		}
		batch *= 2
	}
	best := time.Duration(1<<63 - 1)
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(batch, b.N-done)
		t0 := time.Now()
		for range k {
			op()
		}
		if d := time.Since(t0); k == batch && d < best {
			best = d
		}
		done += k
	}
	b.StopTimer()
	b.ReportMetric(workPerOp*float64(b.N)/b.Elapsed().Seconds()/1e9, unit)
	if best < time.Duration(1<<63-1) {
		b.ReportMetric(workPerOp*float64(batch)/best.Seconds()/1e9, "best-"+unit)
	}
}

func BenchmarkDot(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{16, 64, 256, 1024, 4096, 1 << 20} {
		x, y := randSlice(r, n), randSlice(r, n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				benchOp(b, 2*float64(n), "GFLOP/s", func() { sink += Dot(x, y) })
			})
		})
	}
}

var sink float32

// 256x1024 (1 MiB of f32) stays in L2; the others stream from L3/DRAM, where
// f32 matvec is bound by memory bandwidth on either path.
var matShapes = []struct{ rows, cols int }{{256, 1024}, {1024, 1024}, {4096, 1024}, {1024, 4096}}

func BenchmarkMatVec(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, sh := range matShapes {
		w, x, dst := randSlice(r, sh.rows*sh.cols), randSlice(r, sh.cols), make([]float32, sh.rows)
		b.Run(fmt.Sprintf("%dx%d", sh.rows, sh.cols), func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				benchOp(b, 2*float64(sh.rows*sh.cols), "GFLOP/s", func() { MatVec(dst, w, x) })
			})
		})
	}
}

// BenchmarkMatVecCold is MatVec the way decoding runs it on a model larger
// than the CPU caches: each call reads a matrix no call has touched since
// about 256 MiB of other matrices went by (a ring of distinct matrices), so
// W streams from DRAM. Reports GB/s of W read (and GFLOP/s).
func BenchmarkMatVecCold(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 11))
	const ring = 256 << 20 // bytes
	for _, sh := range []struct{ rows, cols int }{{768, 256}, {1024, 1024}, {3072, 1024}, {1024, 4096}} {
		n := sh.rows * sh.cols
		k := max(2, ring/(4*n))
		w := make([]float32, k*n)
		for i := range w {
			w[i] = float32(r.IntN(17)-8) * 0.01
		}
		x, dst := randSlice(r, sh.cols), make([]float32, sh.rows)
		b.Run(fmt.Sprintf("%dx%d", sh.rows, sh.cols), func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				i := 0
				benchOp(b, 4*float64(n), "GB/s", func() {
					MatVec(dst, w[i*n:(i+1)*n], x)
					if i++; i == k {
						i = 0
					}
				})
			})
		})
	}
}

func BenchmarkAxpy(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{256, 1024, 4096} {
		x, y := randSlice(r, n), randSlice(r, n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				benchOp(b, 2*float64(n), "GFLOP/s", func() { Axpy(y, 1e-3, x) })
			})
		})
	}
}

func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, sh := range []struct{ n, rows, cols int }{{64, 1024, 1024}, {128, 1024, 1024}, {64, 4096, 1024}, {256, 1024, 4096}} {
		x, w, dst := randSlice(r, sh.n*sh.cols), randSlice(r, sh.rows*sh.cols), make([]float32, sh.n*sh.rows)
		b.Run(fmt.Sprintf("%dx%dx%d", sh.n, sh.rows, sh.cols), func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				benchOp(b, 2*float64(sh.n*sh.rows*sh.cols), "GFLOP/s", func() { MatMul(dst, x, w, sh.n) })
			})
		})
	}
}

func BenchmarkMatVecQ8(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, sh := range matShapes {
		q, s := randQ8(r, sh.rows, sh.cols)
		x, dst := randSlice(r, sh.cols), make([]float32, sh.rows)
		b.Run(fmt.Sprintf("%dx%d", sh.rows, sh.cols), func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				benchOp(b, 2*float64(sh.rows*sh.cols), "GFLOP/s", func() { MatVecQ8(dst, q, s, x) })
			})
		})
	}
}

func BenchmarkMatMulQ8(b *testing.B) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, sh := range []struct{ n, rows, cols int }{{64, 1024, 1024}, {256, 1024, 4096}} {
		q, s := randQ8(r, sh.rows, sh.cols)
		x, dst := randSlice(r, sh.n*sh.cols), make([]float32, sh.n*sh.rows)
		b.Run(fmt.Sprintf("%dx%dx%d", sh.n, sh.rows, sh.cols), func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				benchOp(b, 2*float64(sh.n*sh.rows*sh.cols), "GFLOP/s", func() { MatMulQ8(dst, x, q, s, sh.n) })
			})
		})
	}
}

func BenchmarkMatVecTAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	// 512x64: attention's value sum for one head (512 cached positions,
	// head dim 64)
	for _, sh := range []struct{ rows, cols int }{{512, 64}, {1024, 1024}} {
		w, x, dst := randSlice(r, sh.rows*sh.cols), randSlice(r, sh.rows), make([]float32, sh.cols)
		b.Run(fmt.Sprintf("%dx%d", sh.rows, sh.cols), func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				benchOp(b, 2*float64(sh.rows*sh.cols), "GFLOP/s", func() { MatVecTAdd(dst, w, x) })
			})
		})
	}
}

// Elementwise kernels report Gelem/s (the copy that restores the input is
// included).

func BenchmarkGELUTanh(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	src, x := randSlice(r, 4096), make([]float32, 4096)
	benchPaths(b, func(b *testing.B) {
		benchOp(b, float64(len(x)), "Gelem/s", func() {
			copy(x, src)
			GELUTanh(x)
		})
	})
}

func BenchmarkExpShift(b *testing.B) {
	r := rand.New(rand.NewPCG(8, 8))
	src, x := randSlice(r, 4096), make([]float32, 4096)
	benchPaths(b, func(b *testing.B) {
		benchOp(b, float64(len(x)), "Gelem/s", func() {
			copy(x, src)
			sink += ExpShift(x, 1)
		})
	})
}

// warmSIMD runs every SIMD kernel for a while before the first timed SIMD
// benchmark, so V8 has tiered them up from Liftoff to TurboFan.
var warmed bool

func warmSIMD() {
	if warmed || !SIMD() {
		return
	}
	warmed = true
	r := rand.New(rand.NewPCG(0, 0))
	const n, rows, cols = 8, 64, 256
	x, w, dst := randSlice(r, n*cols), randSlice(r, rows*cols), make([]float32, n*rows)
	q, s := randQ8(r, rows, cols)
	for range 400 {
		MatVec(dst[:rows], w, x[:cols])
		MatMul(dst, x, w, n)
		MatVecQ8(dst[:rows], q, s, x[:cols])
		MatMulQ8(dst, x, q, s, n)
		Axpy(dst[:cols], 0.5, x[:cols])
		MatVecTAdd(dst[:cols], w[:rows*cols], x[:rows])
		GELUTanh(dst)
		sink += ExpShift(dst, 1)
		sink += ALiBiScores(dst[:rows], w, x[:cols], 0.125, 0.5, -rows)
		sink += Dot(x, x)
	}
}

// BenchmarkAttentionHead compares two ways to run one ALiBi attention head
// over 512 cached positions (head dim 64) with the kernels: one Dot and one
// Axpy call per position (the call overhead dominates at d = 64), and one
// ALiBiScores + ExpShift + MatVecTAdd per block of positions.
func BenchmarkAttentionHead(b *testing.B) {
	const pos, d = 512, 64
	r := rand.New(rand.NewPCG(10, 10))
	k, v, q := randSlice(r, pos*d), randSlice(r, pos*d), randSlice(r, d)
	out, sc := make([]float32, d), make([]float32, pos)
	benchPaths(b, func(b *testing.B) {
		b.Run("per-position", func(b *testing.B) {
			benchOp(b, 4*pos*d, "GFLOP/s", func() {
				clear(out)
				mx := float32(math.Inf(-1))
				for j := range pos {
					sc[j] = Dot(q, k[j*d:(j+1)*d])*0.125 - 0.0625*float32(pos-1-j)
					mx = max(mx, sc[j])
				}
				sum := ExpShift(sc, mx)
				for j := range pos {
					Axpy(out, sc[j]/sum, v[j*d:(j+1)*d])
				}
			})
		})
		b.Run("blocked", func(b *testing.B) {
			benchOp(b, 4*pos*d, "GFLOP/s", func() {
				clear(out)
				mx := ALiBiScores(sc, k, q, 0.125, 0.0625, 1-pos)
				sum := ExpShift(sc, mx)
				Scale(sc, 1/sum)
				MatVecTAdd(out, v, sc)
			})
		})
	})
}

package watfma

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRelax(t *testing.T) {
	tests := []struct {
		name, in, want string
		n              int
		err            string
	}{
		{
			name: "marked function",
			in: "(module\n  (func $f (param $x i32) ;; @fma\n" +
				"    (local.set $a (f32x4.add (local.get $a) (f32x4.mul (v128.load offset=16 (local.get $w)) (local.get $xv))))))",
			want: "(module\n  (func $f (param $x i32) ;; @fma\n" +
				"    (local.set $a (f32x4.relaxed_madd (v128.load offset=16 (local.get $w)) (local.get $xv) (local.get $a)))))",
			n: 1,
		},
		{
			name: "unmarked function untouched",
			in:   "(module (func $g\n (local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $b) (local.get $c))))))",
			want: "(module (func $g\n (local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $b) (local.get $c))))))",
		},
		{
			name: "only the marked one of two",
			in: "(func $a ;; @fma\n (f32x4.add (local.get $s) (f32x4.mul (local.get $p) (local.get $q))))\n" +
				"(func $b\n (f32x4.add (local.get $s) (f32x4.mul (local.get $p) (local.get $q))))",
			want: "(func $a ;; @fma\n (f32x4.relaxed_madd (local.get $p) (local.get $q) (local.get $s)))\n" +
				"(func $b\n (f32x4.add (local.get $s) (f32x4.mul (local.get $p) (local.get $q))))",
			n: 1,
		},
		{
			name: "sum of products is not an accumulation",
			in:   "(func $h ;; @fma\n (f32x4.add (f32x4.mul (local.get $p) (local.get $q)) (local.get $s))\n (f32x4.add (local.get $s) (f32x4.mul (local.get $p) (local.get $q))))",
			want: "(func $h ;; @fma\n (f32x4.add (f32x4.mul (local.get $p) (local.get $q)) (local.get $s))\n (f32x4.relaxed_madd (local.get $p) (local.get $q) (local.get $s)))",
			n:    1,
		},
		{
			name: "parentheses in comments do not count",
			in:   "(func $c ;; @fma\n ;; (unbalanced\n (f32x4.add (local.get $s) (f32x4.mul (local.get $p) ;; )\n (local.get $q))))",
			want: "(func $c ;; @fma\n ;; (unbalanced\n (f32x4.relaxed_madd (local.get $p) (local.get $q) (local.get $s)))",
			n:    1,
		},
		{name: "stale marker", in: "(func $d ;; @fma\n (f32x4.add (local.get $a) (local.get $b)))", err: "has no"},
		{name: "marker off a func line", in: "(func $e\n (nop) ;; @fma\n)", err: "not at the end of a (func"},
		{
			name: "marker in a comment line is text",
			in:   ";; functions marked ;; @fma are rewritten\n(func $e\n (nop))",
			want: ";; functions marked ;; @fma are rewritten\n(func $e\n (nop))",
		},
		{name: "unbalanced", in: "(func $e ;; @fma\n (f32x4.add (local.get $a) (f32x4.mul (local.get $b) (local.get $c)))", err: "not closed"},
		{name: "three operands", in: "(func $e ;; @fma\n (f32x4.add (local.get $a) (f32x4.mul (local.get $b) (local.get $c) (local.get $d))))", err: "more than two"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := Relax([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || n != tc.n {
				t.Fatalf("got (%d)\n%s\nwant (%d)\n%s", n, got, tc.n, tc.want)
			}
		})
	}
}

// TestKernels rewrites the real kernels: the marked functions' accumulations
// (matvec 12, mm4 8) and nothing else; wat2wasm, when installed, assembles the
// result with relaxed SIMD enabled and rejects it without.
func TestKernels(t *testing.T) {
	src := filepath.Join("..", "..", "engine", "kernels", "simd", "kernels.wat")
	wat, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out, n, err := Relax(wat)
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Fatalf("%d accumulations rewritten, want 20 (matvec 12, mm4 8)", n)
	}
	if got := bytes.Count(out, []byte("(f32x4.relaxed_madd ")) - bytes.Count(wat, []byte("(f32x4.relaxed_madd ")); got != n {
		t.Fatalf("%d relaxed_madd in the output", got)
	}
	if bytes.Count(wat, []byte("f32x4.add"))-n != bytes.Count(out, []byte("f32x4.add")) {
		t.Fatal("an f32x4.add outside the rewritten accumulations changed")
	}
	w2w, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not installed")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "k.wat")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(w2w, "--enable-relaxed-simd", f, "-o", filepath.Join(dir, "k.wasm")).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm --enable-relaxed-simd: %v\n%s", err, b)
	}
	if exec.Command(w2w, f, "-o", filepath.Join(dir, "k2.wasm")).Run() == nil {
		t.Fatal("the rewritten kernels assemble without relaxed SIMD: nothing was rewritten?")
	}
}

func FuzzRelax(f *testing.F) {
	f.Add([]byte("(func $f ;; @fma\n (f32x4.add (local.get $a) (f32x4.mul (local.get $b) (local.get $c))))"))
	f.Add([]byte("(func $f\n (f32x4.add (local.get $a) (f32x4.mul (local.get $b) (local.get $c))))"))
	f.Add([]byte("(func ;; @fma\n (f32x4.add (local.get $a) (f32x4.mul (\"x)\" ;; )\n) (local.get $c))))"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, n, err := Relax(in)
		if err != nil {
			return
		}
		if !bytes.Contains(in, []byte(Marker)) && !bytes.Equal(out, in) {
			t.Fatal("text without the marker changed")
		}
		if got := bytes.Count(out, []byte("(f32x4.relaxed_madd ")) - bytes.Count(in, []byte("(f32x4.relaxed_madd ")); got != n {
			t.Fatalf("%d rewrites reported, %d in the output", n, got)
		}
	})
}

package numpy

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// TestAgainstNumpy: Log32 and Exp32 equal numpy 2.4's np.log and np.exp on
// float32 arrays (AVX-512 machine) bit for bit, 22,000 values each.
// testdata/log32.bin holds the counts 1-10,000 that sublinear_tf takes the
// log of, values across the whole float32 range, values near 1 and random
// bit patterns (denormals included); testdata/exp32.bin values uniform over
// the whole range, softmax's shifted values in [-20, 0], values near 0,
// random bit patterns and the bounds. Each holds (x, f(x)) as little-endian
// float32 bit pairs, written by numpy itself.
func TestAgainstNumpy(t *testing.T) {
	for _, c := range []struct {
		name, file string
		f, exact   func(float32) float32
	}{
		{"Log32", "testdata/log32.bin", Log32, func(x float32) float32 { return float32(math.Log(float64(x))) }},
		{"Exp32", "testdata/exp32.bin", Exp32, func(x float32) float32 { return float32(math.Exp(float64(x))) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			n, bad, differsFromMath := len(b)/8, 0, 0
			for i := range n {
				x := math.Float32frombits(binary.LittleEndian.Uint32(b[8*i:]))
				want := math.Float32frombits(binary.LittleEndian.Uint32(b[8*i+4:]))
				if got := c.f(x); math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
					if bad++; bad <= 5 {
						t.Errorf("%s(%g) = %g (%#x), numpy %g (%#x)", c.name, x, got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
				if c.exact(x) != want {
					differsFromMath++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d values differ from numpy", bad, n)
			}
			// The test would pass with the correctly rounded function were
			// numpy's not different: it must be, on a good share of the values.
			if differsFromMath < n/100 {
				t.Errorf("only %d of %d numpy values differ from the correctly rounded function", differsFromMath, n)
			}
			t.Logf("%d values, %d of which numpy rounds differently from the correctly rounded function", n, differsFromMath)
		})
	}
}

func TestLog32Special(t *testing.T) {
	for _, c := range []struct{ x, want float32 }{
		{0, float32(math.Inf(-1))}, {float32(math.Inf(1)), float32(math.Inf(1))}, {1, 0},
	} {
		if got := Log32(c.x); got != c.want {
			t.Errorf("Log32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	for _, x := range []float32{-1, float32(math.NaN())} {
		if got := Log32(x); got == got {
			t.Errorf("Log32(%g) = %g, want NaN", x, got)
		}
	}
}

// TestFMA32: the float32 fused multiply-add is one rounding of the exact
// value, also where rounding the float64 FMA again would round twice.
func TestFMA32(t *testing.T) {
	// a·b + c = 1 + 2^-23 + 2^-24 - 2^-70 exactly: just below halfway
	// between 1 + 2^-23 and 1 + 2^-22, so one rounding gives 1 + 2^-23. The
	// float64 FMA rounds the 2^-70 away and lands exactly halfway, which
	// float32 rounding sends to the even neighbour, 1 + 2^-22.
	a := float32(math.Ldexp(1+math.Ldexp(1, -23), -24))
	b := float32(1 - math.Ldexp(1, -23))
	c := float32(1 + math.Ldexp(1, -23))
	if r := math.FMA(float64(a), float64(b), float64(c)); float32(r) != float32(1+math.Ldexp(1, -22)) {
		t.Fatalf("set-up: the float64 FMA then float32 gives %v", float32(r))
	}
	if got, want := FMA32(a, b, c), float32(1+math.Ldexp(1, -23)); got != want {
		t.Errorf("fma32 = %v, want %v", got, want)
	}
	if got, want := FMA32(3, 5, 7), float32(22); got != want {
		t.Errorf("FMA32(3,5,7) = %v", got)
	}
}

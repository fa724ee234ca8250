package numpy

import (
	"math"
	"math/big"
)

// Log32 is np.log on a float32 array as numpy computes it on x86-64 with
// AVX2 and FMA3 or with AVX-512 (simd_log_FLOAT in numpy's
// loops_exponent_log; almost every x86 server since 2013), which is not
// correctly rounded: a float32 TF-IDF with sublinear_tf takes the log of
// its counts through it, and math.Log rounded to float32 differs from it in
// the last bit on about one count in twenty. The steps: x = m·2^e with m
// in [√½, √2), then log(x) = e·ln2 + P(m-1)/Q(m-1), a degree-5 rational
// minimax approximation evaluated with float32 fused multiply-adds. The
// coefficients are numpy's (npy_simd_data.h); the result matches numpy bit
// for bit (TestAgainstNumpy holds 22,000 values numpy
// computed).
func Log32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x < 0:
		return float32(math.NaN())
	case x == 0:
		return float32(math.Inf(-1))
	case math.IsInf(float64(x), 1):
		return x
	}
	fr, exp := math.Frexp(float64(x)) // exact: fr in [0.5, 1), denormals too
	m, e := float32(fr), float32(exp)
	if m <= sqrt1_2f {
		m, e = m+m, e-1
	}
	m--
	num := FMA32(logP[5], m, logP[4])
	den := FMA32(logQ[5], m, logQ[4])
	for k := 3; k >= 0; k-- {
		num = FMA32(num, m, logP[k])
		den = FMA32(den, m, logQ[k])
	}
	return FMA32(e, loge2f, num/den)
}

// Exp32 is np.exp on a float32 array as numpy computes it on x86-64 with
// AVX2 and FMA3 or with AVX-512 (simd_exp_FLOAT): Cody-Waite reduction
// x = k·ln2 + r with k rounded to nearest, exp(r) as a degree-5 over
// degree-2 rational in float32 fused multiply-adds, scaled by 2^k. Not
// correctly rounded either (up to 2.5 ulp): a softmax over float32
// decision values goes through it. TestAgainstNumpy holds 22,000 values numpy
// computed.
func Exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x >= expMax:
		return float32(math.Inf(1))
	case x <= expMin:
		return 0
	}
	q := x * log2ef
	q = (q + rintMagic) - rintMagic // round to nearest, ties to even
	r := FMA32(q, codyWaiteHigh, x)
	r = FMA32(q, codyWaiteLow, r)
	num := FMA32(expP[5], r, expP[4])
	for k := 3; k >= 0; k-- {
		num = FMA32(num, r, expP[k])
	}
	den := FMA32(FMA32(expQ[2], r, expQ[1]), r, expQ[0])
	// _mm512_scalef_ps: poly·2^q rounded once (to a denormal, when it is one).
	return float32(math.Ldexp(float64(num/den), int(q)))
}

// numpy's float32 constants of the log and exp kernels (npy_math.h,
// npy_simd_data.h).
const (
	sqrt1_2f      float32 = 0.707106781186547524400844362104849039
	loge2f        float32 = 0.693147180559945309417232121458176568
	log2ef        float32 = 1.442695040888963407359924681001892137
	rintMagic     float32 = 0x1.8p23
	codyWaiteHigh float32 = -6.93145752e-1
	codyWaiteLow  float32 = -1.42860677e-6
	expMax        float32 = 88.72283935546875
	expMin        float32 = -103.97208404541015625
)

var (
	logP = [6]float32{0, 9.999999999999998702752e-01, 2.112677543073053063722e+00,
		1.480000633576506585156e+00, 3.808837741388407920751e-01, 2.589979117907922693523e-02}
	logQ = [6]float32{1, 2.612677543073109236779e+00, 2.453006071784736363091e+00,
		9.864942958519418960339e-01, 1.546476374983906719538e-01, 5.875095403124574342950e-03}
	expP = [6]float32{9.999999999980870924916e-01, 7.257664613233124478488e-01, 2.473615434895520810817e-01,
		5.114512081637298353406e-02, 6.757896990527504603057e-03, 5.082762527590693718096e-04}
	expQ = [3]float32{1, -2.742335390411667452936e-01, 2.159509375685829852307e-02}
)

// FMA32 is a float32 fused multiply-add (one rounding of a·b+c), as the
// vfmadd instructions compute it. The float64 FMA is exact in its product
// and rounds the sum once; rounding that again to float32 can differ from
// one rounding only when it lands exactly halfway between two float32s,
// which is then settled exactly.
func FMA32(a, b, c float32) float32 {
	r := math.FMA(float64(a), float64(b), float64(c))
	f := float32(r)
	if float64(f) == r || math.IsInf(r, 0) {
		return f
	}
	other := math.Nextafter32(f, float32(math.Copysign(math.Inf(1), r-float64(f))))
	if r != (float64(f)+float64(other))/2 {
		return f
	}
	var p, s big.Float
	p.SetPrec(200).Mul(new(big.Float).SetFloat64(float64(a)), new(big.Float).SetFloat64(float64(b)))
	s.SetPrec(200).Add(&p, new(big.Float).SetFloat64(float64(c)))
	exact, _ := s.Float32()
	return exact
}

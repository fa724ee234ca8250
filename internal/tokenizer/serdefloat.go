package tokenizer

import (
	"fmt"
	"math"
)

// pow10 holds 1e0 ... 1e308, the table serde_json divides or multiplies by.
var pow10 = func() [309]float64 {
	var t [309]float64
	for i := range t {
		t[i] = math.Pow10(i)
	}
	return t
}()

// parseSerdeFloat reads a JSON number as serde_json does without its
// float_roundtrip feature, which is how tokenizers reads Unigram scores:
// the digits are gathered into a uint64 (digits past its range are
// dropped), converted to float64, then multiplied or divided by a power of
// ten. For 17-digit scores that is not always the correctly rounded value
// Go's strconv gives, and Viterbi ties are then broken differently; reading
// the same bits keeps the ids identical.
func parseSerdeFloat(s []byte) (float64, error) {
	i := 0
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	if i >= len(s) || s[i] < '0' || s[i] > '9' {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	var sig uint64
	exp := 0
	overflow := false
	digit := func(d byte, afterPoint bool) {
		if overflow {
			if !afterPoint {
				exp++
			}
			return
		}
		v := uint64(d - '0')
		if sig > (math.MaxUint64-v)/10 {
			overflow = true
			if !afterPoint {
				exp++
			}
			return
		}
		sig = sig*10 + v
		if afterPoint {
			exp--
		}
	}
	if s[i] == '0' {
		i++
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digit(s[i], false)
			i++
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not a number: %q", s)
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digit(s[i], true)
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not a number: %q", s)
		}
		e := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if e < 100000 {
				e = e*10 + int(s[i]-'0')
			}
			i++
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(s) {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	f := float64(sig)
	for {
		a := exp
		if a < 0 {
			a = -a
		}
		if a < len(pow10) {
			if exp >= 0 {
				f *= pow10[a]
				if math.IsInf(f, 0) {
					return 0, fmt.Errorf("number out of range: %q", s)
				}
			} else {
				f /= pow10[a]
			}
			break
		}
		if f == 0 {
			break
		}
		if exp >= 0 {
			return 0, fmt.Errorf("number out of range: %q", s)
		}
		f /= 1e308
		exp += 308
	}
	if neg {
		f = -f
	}
	return f, nil
}

package sklearn

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
)

func TestCalibrationMethodRefusal(t *testing.T) {
	for _, m := range []string{"sigmoid", "isotonic", "temperature"} {
		if err := checkCalibrationMethod(m); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	err := checkCalibrationMethod("beta")
	if !errors.Is(err, model.ErrUnsupported) || !strings.Contains(err.Error(), `"beta"`) ||
		!strings.Contains(err.Error(), "sigmoid, isotonic and temperature") {
		t.Errorf("err = %v, want ErrUnsupported naming the method and the supported ones", err)
	}
}

// TestTemperatureProba checks the binary forms against their closed forms:
// a decision d gives softmax(beta·(-d, d)) = expit(2·beta·d); a probability
// p gives softmax(beta·log(p + 1e-12), …).
func TestTemperatureProba(t *testing.T) {
	out := make([]float64, 2)
	temperatureProba(0.7, []float64{1.3}, false, out)
	if want := expit(2 * 0.7 * 1.3); math.Abs(out[1]-want) > 1e-15 || math.Abs(out[0]+out[1]-1) > 1e-15 {
		t.Errorf("decision: %v, want [%v %v]", out, 1-want, want)
	}
	temperatureProba(2, []float64{0.8}, true, out)
	a, b := math.Pow(0.2+1e-12, 2), math.Pow(0.8+1e-12, 2)
	if want := b / (a + b); math.Abs(out[1]-want) > 1e-12 {
		t.Errorf("probability: %v, want p1 = %v", out, want)
	}
}

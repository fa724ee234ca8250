package pickle

import (
	"fmt"
	"math/big"
)

// Describer is a value made by an allowed constructor (a numpy array, a
// sparse matrix) that can say what it is in the words of Describe.
type Describer interface {
	Describe() string
}

// Describe renders a decoded value for an error message, briefly: scalars
// in full up to 64 bytes, containers by type and length, never recursing,
// so that a hostile value cannot make an error message expensive.
func Describe(v any) string {
	const max = 64
	short := func(s string) string {
		if len(s) > max {
			return s[:max] + "..."
		}
		return s
	}
	switch x := v.(type) {
	case nil:
		return "None"
	case bool, int64, float64:
		return fmt.Sprint(x)
	case *big.Int:
		if x.BitLen() > 200 {
			return fmt.Sprintf("int of %d bits", x.BitLen())
		}
		return x.String()
	case string:
		return fmt.Sprintf("%q", short(x))
	case []byte:
		return fmt.Sprintf("bytes of length %d", len(x))
	case Tuple:
		return fmt.Sprintf("tuple of length %d", len(x))
	case *List:
		return fmt.Sprintf("list of length %d", len(x.Items))
	case *Set:
		return fmt.Sprintf("set of length %d", len(x.Items))
	case *Dict:
		return fmt.Sprintf("dict of length %d", x.Len())
	case Global:
		return x.Module + "." + x.Name
	case *Object:
		return x.Class.Module + "." + x.Class.Name + " object"
	case Describer:
		return x.Describe()
	}
	return fmt.Sprintf("%T", v)
}

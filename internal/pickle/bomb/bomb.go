// Package bomb builds hostile pickle streams for tests and fuzz seeds: the
// memory, CPU and recursion bombs of issue 11, written opcode by opcode so
// that every reader test can make them without Python or fixture files.
//
// Each builder returns a complete pickle (protocol 2 or 4) that Python
// itself would load, and that a reader without budgets would choke on: it
// would allocate gigabytes, spin for seconds, or recurse until the stack
// overflows. The packages that read pickles assert that each is refused
// quickly with an error naming the limit.
package bomb

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// w is a pickle being written.
type w struct{ bytes.Buffer }

func (b *w) op(ops ...byte) *w { b.Write(ops); return b }

// str writes a BINUNICODE8 string.
func (b *w) str(s string) *w {
	b.WriteByte(0x8d)
	binary.Write(b, binary.LittleEndian, uint64(len(s)))
	b.WriteString(s)
	return b
}

// global writes a GLOBAL opcode.
func (b *w) global(module, name string) *w {
	b.WriteString("c" + module + "\n" + name + "\n")
	return b
}

// put and get are BINPUT and BINGET.
func (b *w) put(i byte) *w { return b.op('q', i) }
func (b *w) get(i byte) *w { return b.op('h', i) }

// EmptyDicts is n EMPTY_DICT opcodes: n bytes that a reader charging one
// byte per opcode would let grow to n × 160 bytes of Go memory.
func EmptyDicts(n int) []byte {
	var b w
	b.op(0x80, 4)
	b.Write(bytes.Repeat([]byte{'}'}, n))
	b.op('.')
	return b.Bytes()
}

// BigInts is a list of count INT opcodes of digits decimal digits each:
// converting each costs O(digits²).
func BigInts(count, digits int) []byte {
	var b w
	b.op(0x80, 2, ']')
	num := "9" + strings.Repeat("8", digits-1) + "\n"
	for i := 0; i < count; i++ {
		b.WriteString("I" + num)
		b.op('a')
	}
	b.op('.')
	return b.Bytes()
}

// KeyReuse is a dict that stores uses entries under one key, a tuple of
// tupleLen references to one string of strLen bytes: every store hashes
// the whole key again, so a few bytes per use cost tupleLen × strLen of
// hashing each.
func KeyReuse(strLen, tupleLen, uses int) []byte {
	var b w
	b.op(0x80, 4, '}')
	b.str(strings.Repeat("k", strLen)).put(0).op('0', '(')
	for i := 0; i < tupleLen; i++ {
		b.get(0)
	}
	b.op('t').put(1).op('0')
	for i := 0; i < uses; i++ {
		b.get(1).op('N', 's')
	}
	b.op('.')
	return b.Bytes()
}

// SetReuse is set(list) of uses references to the key of KeyReuse: the
// same hashing, through builtins.set instead of a dict.
func SetReuse(strLen, tupleLen, uses int) []byte {
	var b w
	b.op(0x80, 4)
	b.global("builtins", "set")
	b.str(strings.Repeat("k", strLen)).put(0).op('0', '(')
	for i := 0; i < tupleLen; i++ {
		b.get(0)
	}
	b.op('t').put(1).op('0', ']', '(')
	for i := 0; i < uses; i++ {
		b.get(1)
	}
	b.op('e', 0x85, 'R', '.')
	return b.Bytes()
}

// BigIntKeyReuse is a dict that stores uses entries under one integer of
// size bytes (LONG4).
func BigIntKeyReuse(size, uses int) []byte {
	var b w
	b.op(0x80, 4, '}', 0x8b)
	binary.Write(&b, binary.LittleEndian, uint32(size))
	b.Write(bytes.Repeat([]byte{0x5a}, size))
	b.put(0).op('0')
	for i := 0; i < uses; i++ {
		b.get(0).op('N', 's')
	}
	b.op('.')
	return b.Bytes()
}

// SelfListKey is a dict keyed by a list that contains itself; inTuple puts
// that list inside a tuple key instead.
func SelfListKey(inTuple bool) []byte {
	var b w
	b.op(0x80, 2, '}', ']').put(0).get(0).op('a')
	if inTuple {
		b.op(0x85)
	}
	b.op('N', 's', '.')
	return b.Bytes()
}

// Module paths of the scikit-learn classes the estimator bombs use.
const (
	search      = "sklearn.model_selection._search"
	pipeline    = "sklearn.pipeline"
	calibration = "sklearn.calibration"
)

// object writes cls() (NEWOBJ with no arguments).
func (b *w) object(module, name string) *w {
	return b.global(module, name).op(')', 0x81)
}

// SelfGridSearch is a GridSearchCV whose best_estimator_ is itself.
func SelfGridSearch() []byte {
	var b w
	b.op(0x80, 2).object(search, "GridSearchCV").put(0)
	b.op('}').str("best_estimator_").get(0).op('s', 'b', '.')
	return b.Bytes()
}

// SelfPipeline is a Pipeline whose steps are itself.
func SelfPipeline() []byte {
	var b w
	b.op(0x80, 2).object(pipeline, "Pipeline").put(0)
	b.op('}').str("steps").op(']', '(')
	b.str("a").get(0).op(0x86)
	b.str("b").get(0).op(0x86)
	b.op('e', 's', 'b', '.')
	return b.Bytes()
}

// SelfUnion is a Pipeline whose vectorizer is a FeatureUnion that contains
// itself.
func SelfUnion() []byte {
	var b w
	b.op(0x80, 2).object(pipeline, "Pipeline")
	b.op('}').str("steps").op(']', '(')
	b.str("u").object(pipeline, "FeatureUnion").put(0)
	b.op('}').str("transformer_list").op(']', '(').str("self").get(0).op(0x86, 'e', 's', 'b')
	b.op(0x86)
	b.str("c").object("sklearn.linear_model._logistic", "LogisticRegression").op(0x86)
	b.op('e', 's', 'b', '.')
	return b.Bytes()
}

// SelfCalibrated is a CalibratedClassifierCV whose calibrated classifier's
// estimator is the CalibratedClassifierCV itself.
func SelfCalibrated() []byte {
	var b w
	b.op(0x80, 2).object(calibration, "CalibratedClassifierCV").put(0)
	b.op('}')
	b.str("classes_").op(']', '(').str("a").str("b").op('e', 's')
	b.str("calibrated_classifiers_").op(']')
	b.object(calibration, "_CalibratedClassifier")
	b.op('}').str("estimator").get(0).op('s', 'b')
	b.op('a', 's', 'b', '.')
	return b.Bytes()
}

// DeepGridSearch is levels GridSearchCVs, each the best_estimator_ of the
// next: acyclic, built bottom-up through the memo so that no MARK nests,
// about 16 bytes a level.
func DeepGridSearch(levels int) []byte {
	var b w
	b.op(0x80, 2).global(search, "GridSearchCV").put(0).op(')', 0x81).put(1).op('0')
	b.str("best_estimator_").put(2).op('0')
	for i := 0; i < levels; i++ {
		b.get(0).op(')', 0x81, '}').get(2).get(1).op('s', 'b').put(1).op('0')
	}
	b.get(1).op('.')
	return b.Bytes()
}

// SharedUnion is a Pipeline of FeatureUnions levels deep, each holding the
// next twice: few bytes, but 2^levels estimators to a walk that does not
// count the ones it has seen.
func SharedUnion(levels int) []byte {
	var b w
	b.op(0x80, 2)
	b.global(pipeline, "FeatureUnion").put(0).op('0')
	b.str("transformer_list").put(1).op('0')
	b.global("sklearn.feature_extraction.text", "CountVectorizer").op(')', 0x81).put(2).op('0')
	for i := 0; i < levels; i++ {
		b.get(0).op(')', 0x81, '}').get(1).op(']', '(')
		b.str("a").get(2).op(0x86)
		b.str("b").get(2).op(0x86)
		b.op('e', 's', 'b').put(2).op('0')
	}
	b.object(pipeline, "Pipeline")
	b.op('}').str("steps").op(']', '(')
	b.str("u").get(2).op(0x86)
	b.str("c").object("sklearn.linear_model._logistic", "LogisticRegression").op(0x86)
	b.op('e', 's', 'b', '.')
	return b.Bytes()
}

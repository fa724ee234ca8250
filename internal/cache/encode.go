package cache

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mlserve/mlserve/internal/model"
)

// encodingVersion is the first byte of an encoded entry; entries of another
// version (another mlserve release sharing the Redis) read as corrupt, which
// the second tier treats as a miss.
const encodingVersion = 1

// maxScores bounds the scores an entry may claim, so a hostile entry cannot
// make Decode allocate more than the bytes it holds.
const maxScores = 1 << 16

// Encode serialises a prediction for a second tier: version byte, label,
// index, confidence, probabilities, decision values (varint lengths,
// little-endian float64).
func Encode(p model.Prediction) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(p.Label)+8*(1+len(p.Probabilities)+len(p.Decision)))
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, uint64(len(p.Label)))
	b = append(b, p.Label...)
	b = binary.AppendVarint(b, int64(p.Index))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Confidence))
	for _, fs := range [2][]float64{p.Probabilities, p.Decision} {
		if fs == nil {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(fs))+1) // 0: nil, n+1: n scores
		for _, f := range fs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
	}
	return b
}

// Decode parses an entry written by Encode. It never panics and allocates no
// more than the entry's length justifies.
func Decode(b []byte) (model.Prediction, error) {
	var p model.Prediction
	if len(b) == 0 || b[0] != encodingVersion {
		return p, fmt.Errorf("%w: unknown encoding", ErrCorrupt)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return p, fmt.Errorf("%w: label length", ErrCorrupt)
	}
	b = b[k:]
	p.Label, b = string(b[:n]), b[n:]
	idx, k := binary.Varint(b)
	if k <= 0 || idx < math.MinInt32 || idx > math.MaxInt32 {
		return p, fmt.Errorf("%w: index", ErrCorrupt)
	}
	p.Index, b = int(idx), b[k:]
	if len(b) < 8 {
		return p, fmt.Errorf("%w: confidence", ErrCorrupt)
	}
	p.Confidence, b = math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:]
	var scores [2][]float64
	for i := range scores {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > maxScores+1 {
			return p, fmt.Errorf("%w: score count", ErrCorrupt)
		}
		b = b[k:]
		if n == 0 {
			continue
		}
		n--
		if n > uint64(len(b)/8) {
			return p, fmt.Errorf("%w: scores truncated", ErrCorrupt)
		}
		fs := make([]float64, n)
		for j := range fs {
			fs[j], b = math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:]
		}
		scores[i] = fs
	}
	if len(b) != 0 {
		return p, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	p.Probabilities, p.Decision = scores[0], scores[1]
	return p, nil
}

package onnx

import (
	"context"
	"fmt"
	"math"
	"slices"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
	"github.com/mlserve/mlserve/internal/tracing"
)

// groupCost is what one extra session run costs, in padded token positions,
// when a batch is split into groups of similar length (plan). A run costs
// roughly a fixed overhead plus one unit per position of its padded
// [rows, longest] input, so padding a 10-token text to a 128-token
// neighbour wastes more than a run of its own costs.
const groupCost = 32

// Predict classifies texts: tokenize, pad, run the graph, then softmax the
// logits (or read the probabilities, or pool the embeddings and apply the
// classifier stage). A batch whose texts differ much in length runs as a
// few groups of similar length, so short texts are not padded to the
// longest; results do not depend on how a batch is grouped. Each
// prediction carries its text's out-of-vocabulary rate (OOV, as OOVRate
// defines it), counted on the encoded batch.
func (m *Model) Predict(ctx context.Context, texts []string) ([]model.Prediction, error) {
	if len(texts) == 0 {
		return []model.Prediction{}, nil
	}
	oov := make([]model.OOVRate, len(texts))
	if m.clf != nil {
		emb, dim, err := m.embed(ctx, texts, oov)
		if err != nil {
			return nil, err
		}
		out, err := m.clf.PredictVectors(ctx, emb, len(texts), dim)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i].OOV = oov[i]
		}
		return out, nil
	}
	k := len(m.labels)
	out := make([]model.Prediction, len(texts))
	probs := make([]float64, len(texts)*k)
	err := m.forward(ctx, texts, oov, func(i int, vals []float64, shape []int64, _ []int64) error {
		if len(shape) != 2 || int(shape[1]) != k {
			return fmt.Errorf("%w: %s returned %s of shape %v for %d labels", model.ErrInvalid, m.artifact, m.out.name, shape, k)
		}
		p := probs[i*k : (i+1)*k : (i+1)*k]
		switch m.spec.Output.Kind {
		case KindLogits:
			softmax(vals, p)
		case KindMultiLabel:
			sigmoid(vals, p)
		default:
			copy(p, vals)
		}
		best := 0
		for j, v := range p {
			if v > p[best] {
				best = j
			}
		}
		out[i] = model.Prediction{Label: m.labels[best], Index: best, Confidence: p[best], Probabilities: p, OOV: oov[i]}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Embed returns the pooled (and, when configured, normalised) embedding of
// each text: what the classifier stage receives. Only for an embedding
// output.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float64, error) {
	if m.spec.Output.Kind != KindEmbedding {
		return nil, fmt.Errorf("%w: output kind is %s, not embedding", model.ErrUnsupported, m.spec.Output.Kind)
	}
	emb, dim, err := m.embed(ctx, texts, nil)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(texts))
	for i := range out {
		out[i] = make([]float64, dim)
		for j := range dim {
			out[i][j] = float64(emb[i*dim+j])
		}
	}
	return out, nil
}

// embed runs the graph and pools its output: rows × dim values, row-major.
// A non-nil oov receives each text's out-of-vocabulary rate.
func (m *Model) embed(ctx context.Context, texts []string, oov []model.OOVRate) ([]float32, int, error) {
	dim := m.clf.Dim()
	if len(texts) == 0 {
		return nil, dim, nil
	}
	emb := make([]float32, len(texts)*dim)
	pooled := make([]float64, dim)
	err := m.forward(ctx, texts, oov, func(i int, vals []float64, shape []int64, mask []int64) error {
		if int(shape[len(shape)-1]) != dim {
			return fmt.Errorf("%w: %s returned embeddings of %d values, %s takes %d", model.ErrInvalid,
				m.artifact, shape[len(shape)-1], m.spec.Classifier, dim)
		}
		switch m.spec.Output.Pooling {
		case PoolNone:
			copy(pooled, vals)
		case PoolCLS:
			copy(pooled, vals[:dim])
		case PoolMean:
			if int(shape[1]) != len(mask) {
				return fmt.Errorf("%w: %s has %d positions for %d input columns", model.ErrInvalid, m.out.name, shape[1], len(mask))
			}
			clear(pooled)
			var n float64
			for j, on := range mask {
				if on == 0 {
					continue
				}
				n++
				for d, v := range vals[j*dim : (j+1)*dim] {
					pooled[d] += v
				}
			}
			n = max(n, 1e-9) // an empty text pools to zeros, as sentence-transformers does
			for d := range pooled {
				pooled[d] /= n
			}
		}
		if m.spec.Output.Normalize {
			var ss float64
			for _, v := range pooled {
				ss += v * v
			}
			norm := max(math.Sqrt(ss), 1e-12)
			for d := range pooled {
				pooled[d] /= norm
			}
		}
		for d, v := range pooled {
			emb[i*dim+d] = float32(v)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return emb, dim, nil
}

// rowFunc receives text i's share of the graph output (vals, of the
// output's shape without the batch dimension: shape[0] is 1) and the
// attention mask of its padded row.
type rowFunc func(i int, vals []float64, shape []int64, mask []int64) error

// forward tokenizes texts, runs the graph on each group of the plan and
// hands every text's output to emit. A non-nil oov (one per text) receives
// the out-of-vocabulary rates of the encoded texts.
func (m *Model) forward(ctx context.Context, texts []string, oov []model.OOVRate, emit rowFunc) error {
	b := m.batches.Get().(*preprocess.Batch)
	defer m.batches.Put(b)
	if m.hf != nil {
		_, span := tracing.Child(ctx, "onnx.tokenize")
		err := m.encodeHF(b, texts, oov)
		tracing.Fail(span, err)
		span.End()
		if err != nil {
			return err
		}
	} else {
		_, span := tracing.Child(ctx, "onnx.tokenize")
		err := b.Encode(m.tok, texts, m.enc)
		tracing.Fail(span, err)
		span.End()
		if err != nil {
			return err
		}
		if oov != nil {
			m.batchOOV(b, oov)
		}
	}
	for _, g := range m.plan(b.Lens) {
		gctx, span := tracing.Child(ctx, "onnx.run")
		if span.IsRecording() {
			span.SetAttributes(tracing.BatchSizeKey.Int(len(g)))
		}
		err := m.runGroup(gctx, b, g, emit)
		tracing.Fail(span, err)
		span.End()
		if err != nil {
			return err
		}
	}
	return nil
}

// maxRunPositions caps the padded positions (rows × columns) of one
// session run of several rows. A run's intermediate tensors grow with its
// positions; past a few megabytes each they stop fitting the caches and
// glibc serves them by mmap, so every run page-faults them in afresh. On
// spam/v2 (64-dim embeddings, 256 columns) a 32-row run cost 70 µs per
// row against 10 µs per row in 8-row runs; on the MiniLM encoder the cost
// per row also rises with the run (17.5 ms at 1 row of 64 columns, 20.8 ms
// at 32). 2,048 positions amortise the ~25 µs fixed cost of a run and stay
// on the fast side for both models.
const maxRunPositions = 2048

// plan splits the rows of a batch into groups to run: one group unless
// the lengths differ enough that padding costs more than extra runs, or
// the batch holds more than maxRunPositions padded positions. It sorts the
// rows by length and picks the partition into consecutive runs that
// minimises Σ (groupCost + rows × longest), each run of several rows
// within maxRunPositions, by dynamic programming.
func (m *Model) plan(lens []int) [][]int {
	n := len(lens)
	if n <= 1 {
		return [][]int{identity(n)}
	}
	if m.enc.Padding == preprocess.PadMaxLength {
		// Every run is padded to max_length: only the cap splits.
		return chunkRows(identity(n), maxRunPositions/max(m.enc.MaxLength, 1))
	}
	lo, hi := slices.Min(lens), slices.Max(lens)
	if (hi-lo)*n <= groupCost && n*max(hi, 1) <= maxRunPositions { // nothing to gain: skip the sort
		return [][]int{identity(n)}
	}
	order := identity(n)
	slices.SortStableFunc(order, func(a, b int) int { return lens[a] - lens[b] })
	// best[j]: least cost of the first j sorted rows; cut[j]: where the last
	// group of that plan starts.
	best := make([]int, n+1)
	cut := make([]int, n+1)
	for j := 1; j <= n; j++ {
		best[j] = math.MaxInt
		longest := max(lens[order[j-1]], 1)
		for i := j - 1; i >= 0; i-- {
			if j-i > 1 && (j-i)*longest > maxRunPositions {
				break // longer groups ending at j only grow
			}
			if c := best[i] + groupCost + (j-i)*longest; c < best[j] {
				best[j], cut[j] = c, i
			}
		}
	}
	var groups [][]int
	for j := n; j > 0; j = cut[j] {
		groups = append(groups, order[cut[j]:j])
	}
	slices.Reverse(groups)
	return groups
}

// chunkRows splits rows into runs of at most per rows (at least one).
func chunkRows(rows []int, per int) [][]int {
	per = max(per, 1)
	var out [][]int
	for len(rows) > per {
		out = append(out, rows[:per])
		rows = rows[per:]
	}
	return append(out, rows)
}

func identity(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// runGroup runs the rows rows of b, padded to their own longest, as one
// session run.
func (m *Model) runGroup(ctx context.Context, b *preprocess.Batch, rows []int, emit rowFunc) error {
	cols := b.Cols
	if m.enc.Padding != preprocess.PadMaxLength {
		cols = 0
		for _, r := range rows {
			cols = max(cols, b.Lens[r])
		}
	}
	// Every text empty: one padding column, masked out, so the graph gets a
	// well-formed [rows, 1] batch.
	cols = max(cols, 1)
	ids, mask, types := b.IDs, b.Mask, b.TypeIDs
	if cols != b.Cols || len(rows) != b.Rows || !sorted(rows) {
		n := len(rows) * cols
		ids, mask, types = make([]int64, n), make([]int64, n), make([]int64, n)
		for k, r := range rows {
			dst := k * cols
			if b.Cols == 0 {
				ids[dst] = int64(m.enc.PAD)
				continue
			}
			copy(ids[dst:dst+cols], b.IDs[r*b.Cols:r*b.Cols+cols])
			copy(mask[dst:dst+cols], b.Mask[r*b.Cols:r*b.Cols+cols])
			copy(types[dst:dst+cols], b.TypeIDs[r*b.Cols:r*b.Cols+cols])
		}
	}
	vals, shape, err := m.run(ctx, len(rows), cols, ids, mask, types)
	if err != nil {
		return err
	}
	if len(shape) == 0 || int(shape[0]) != len(rows) {
		return fmt.Errorf("%w: %s returned %s of shape %v for %d texts", model.ErrInvalid, m.artifact, m.out.name, shape, len(rows))
	}
	per := len(vals) / len(rows)
	for k, r := range rows {
		if err := emit(r, vals[k*per:(k+1)*per], shape, mask[k*cols:(k+1)*cols]); err != nil {
			return err
		}
	}
	return nil
}

func sorted(rows []int) bool {
	for i, r := range rows {
		if r != i {
			return false
		}
	}
	return true
}

// run builds the input tensors of a [rows, cols] batch and runs the graph;
// it returns the output's values (widened to float64) and shape.
func (m *Model) run(ctx context.Context, rows, cols int, ids, mask, types []int64) ([]float64, []int64, error) {
	shape := ort.NewShape(int64(rows), int64(cols))
	inputs := make([]ort.Value, len(m.inputs))
	defer func() {
		for _, v := range inputs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, in := range m.inputs {
		src := ids
		switch in.source {
		case SourceMask:
			src = mask
		case SourceTypeIDs:
			src = types
		}
		src = src[:rows*cols]
		var err error
		if in.dtype == ort.TensorElementDataTypeInt32 {
			s32 := make([]int32, len(src))
			for j, v := range src {
				s32[j] = int32(v)
			}
			inputs[i], err = ort.NewTensor(shape, s32)
		} else {
			inputs[i], err = ort.NewTensor(shape, src)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("onnx input %s: %w", in.name, err)
		}
	}
	outputs := []ort.Value{nil}
	if err := m.runSession(ctx, inputs, outputs); err != nil {
		return nil, nil, err
	}
	defer outputs[0].Destroy()
	switch t := outputs[0].(type) {
	case *ort.Tensor[float32]:
		d := t.GetData()
		vals := make([]float64, len(d))
		for i, v := range d {
			vals[i] = float64(v)
		}
		return vals, t.GetShape(), nil
	case *ort.Tensor[float64]:
		return append([]float64(nil), t.GetData()...), t.GetShape(), nil
	}
	return nil, nil, fmt.Errorf("%w: output %s is %T, not a float tensor", model.ErrInvalid, m.out.name, outputs[0])
}

// runSession runs the session once; cancelling ctx terminates the run.
func (m *Model) runSession(ctx context.Context, inputs, outputs []ort.Value) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var ro *ort.RunOptions
	if ctx.Done() != nil {
		var err error
		if ro, err = ort.NewRunOptions(); err != nil {
			return err
		}
		defer ro.Destroy()
		stop := context.AfterFunc(ctx, func() { ro.Terminate() })
		defer stop()
	}
	idleTrim.begin()
	err := m.sess.RunWithOptions(inputs, outputs, ro)
	idleTrim.end()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("onnx run %s: %s", m.artifact, ortReason(err))
	}
	return nil
}

// sigmoid writes the logistic function of each x into p, as torch.sigmoid
// does: 1/(1+e^-x), computed from e^-|x| so neither side overflows.
func sigmoid(x, p []float64) {
	for j, v := range x {
		if v >= 0 {
			p[j] = 1 / (1 + math.Exp(-v))
		} else {
			e := math.Exp(v)
			p[j] = e / (1 + e)
		}
	}
}

// softmax writes the numerically stable softmax of x into p.
func softmax(x, p []float64) {
	hi := math.Inf(-1)
	for _, v := range x {
		hi = max(hi, v)
	}
	var sum float64
	for j, v := range x {
		p[j] = math.Exp(v - hi)
		sum += p[j]
	}
	for j := range p {
		p[j] /= sum
	}
}

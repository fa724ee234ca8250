package app

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/onnx"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

// Loaders are the model backends by framework name. The ONNX backend loads
// ONNX Runtime only when the first ONNX model loads, so a server with no
// ONNX models never needs the library.
func Loaders(c *config.Config, log *slog.Logger) map[string]model.Loader {
	limits := sklearn.Options{MaxModelBytes: c.Limits.MaxModelBytes, BytesPerFileByte: c.Limits.ModelBytesPerFileByte}
	return map[string]model.Loader{
		"sklearn": sklearnLoader{opts: limits},
		"onnx": onnx.Loader{Options: onnx.Options{
			LibraryPath:       c.ONNX.LibraryPath,
			IntraOpThreads:    c.ONNX.IntraOpThreads,
			ExecutionProvider: c.ONNX.ExecutionProvider,
			Log:               log.With("component", "onnx"),
			Classifier:        limits,
		}},
	}
}

// sklearnLoader reads scikit-learn .joblib/.pkl artifacts natively, each
// within the budget its size and limits.max_model_bytes allow, and stops
// when the registry cancels the load.
type sklearnLoader struct{ opts sklearn.Options }

func (l sklearnLoader) Load(ctx context.Context, dir string, m *model.Manifest) (model.Model, error) {
	sm, err := sklearn.LoadContext(ctx, filepath.Join(dir, m.Artifact), l.opts)
	if err != nil {
		return nil, err
	}
	return sm, nil
}

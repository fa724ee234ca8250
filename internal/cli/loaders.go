package cli

import (
	"context"
	"path/filepath"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

// loaders are the model backends by framework name.
func loaders() map[string]model.Loader {
	return map[string]model.Loader{"sklearn": sklearnLoader{}}
}

// sklearnLoader reads scikit-learn .joblib/.pkl artifacts natively.
type sklearnLoader struct{}

func (sklearnLoader) Load(_ context.Context, dir string, m *model.Manifest) (model.Model, error) {
	sm, err := sklearn.Load(filepath.Join(dir, m.Artifact))
	if err != nil {
		return nil, err
	}
	return sm, nil
}

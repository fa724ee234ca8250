package cli

import "github.com/mlserve/mlserve/internal/model"

// loaders are the model backends by framework name.
func loaders() map[string]model.Loader {
	return map[string]model.Loader{}
}

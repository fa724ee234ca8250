package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/mirror"
	s3store "github.com/mlserve/mlserve/internal/mirror/s3"
	"github.com/mlserve/mlserve/internal/model"
)

// openRepository opens models_dir. A local folder is opened as it is. An
// s3://bucket/prefix/ one is mirrored into repository.cache_dir (synced
// once here, so the registry's start finds what the store holds), uploads
// are published to the store, and the returned function syncs the mirror
// once more (nil for a local folder): the watcher calls it before each
// poll, so one poll interval brings a change from the store to the routing
// table.
// A store that cannot be reached at start is logged, not fatal: the cache
// serves what an earlier run left in it.
func openRepository(ctx context.Context, c *config.Config, log *slog.Logger) (*model.Repository, func(context.Context) error, error) {
	bucket, prefix, ok := c.S3Location()
	if !ok {
		repo, err := model.OpenRepositoryWith(c.ModelsDir, model.RepositoryOptions{ModelName: c.ModelName})
		if err != nil {
			return nil, nil, fmt.Errorf("models_dir: %w", err)
		}
		return repo, nil, nil
	}
	dir := c.Repository.CacheDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "mlserve-models", bucket, filepath.FromSlash(prefix))
	}
	store, err := s3store.New(ctx, s3store.Options{Bucket: bucket, Prefix: prefix,
		Endpoint: c.Repository.S3.Endpoint, Region: c.Repository.S3.Region, Timeout: time.Duration(c.Repository.S3.Timeout)})
	if err != nil {
		return nil, nil, fmt.Errorf("models_dir: %w", err)
	}
	mlog := log.With("component", "mirror", "store", store.String())
	m, err := mirror.New(mirror.Options{Store: store, Dir: dir, Logger: mlog})
	if err != nil {
		return nil, nil, fmt.Errorf("repository.cache_dir: %w", err)
	}
	// The first sync's own failure is logged by the mirror.
	_ = m.Sync(ctx)
	repo, err := model.OpenRepositoryWith(dir, model.RepositoryOptions{ModelName: c.ModelName})
	if err != nil {
		return nil, nil, fmt.Errorf("repository.cache_dir: %w", err)
	}
	repo.SetPublisher(m)
	mlog.Info("model repository mirrored from the store", "cache_dir", dir)
	return repo, m.Sync, nil
}

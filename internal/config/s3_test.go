package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestS3ModelsDir: an s3:// models_dir is split into bucket and prefix, its
// store settings come from the file or MLSERVE_REPOSITORY_S3_*, and a bad
// bucket, prefix, endpoint or timeout is refused naming the key.
func TestS3ModelsDir(t *testing.T) {
	tests := []struct {
		name, file         string
		env                map[string]string
		bucket, prefix     string
		endpoint, cacheDir string
		timeout            time.Duration
		s3                 bool
		wantErr            string
	}{
		{name: "local", file: "models_dir: ./models\n"},
		{name: "bucket only", file: "models_dir: s3://models\n", bucket: "models", s3: true},
		{name: "bucket slash", file: "models_dir: s3://models/\n", bucket: "models", s3: true},
		{name: "prefix", file: "models_dir: s3://my-bucket/teams/nlp/\n", bucket: "my-bucket", prefix: "teams/nlp/", s3: true},
		{name: "prefix without slash", file: "models_dir: s3://my-bucket/nlp\n", bucket: "my-bucket", prefix: "nlp/", s3: true},
		{name: "store block", s3: true, bucket: "b12", prefix: "p/",
			file:     "models_dir: s3://b12/p/\nrepository:\n  cache_dir: /var/cache/mlserve\n  s3:\n    endpoint: http://127.0.0.1:9000\n    region: eu-west-1\n",
			endpoint: "http://127.0.0.1:9000", cacheDir: "/var/cache/mlserve"},
		{name: "env", s3: true, bucket: "envb", env: map[string]string{"MLSERVE_MODELS_DIR": "s3://envb/",
			"MLSERVE_REPOSITORY_S3_ENDPOINT": "https://storage.googleapis.com", "MLSERVE_REPOSITORY_CACHE_DIR": "/tmp/c"},
			endpoint: "https://storage.googleapis.com", cacheDir: "/tmp/c"},
		{name: "bad bucket", file: "models_dir: s3://B_ad/\n", wantErr: "bucket name"},
		{name: "empty bucket", file: "models_dir: s3:///x/\n", wantErr: "bucket name"},
		{name: "dotdot prefix", file: "models_dir: s3://bucket/a/../b/\n", wantErr: "key prefix"},
		{name: "empty segment", file: "models_dir: s3://bucket/a//b/\n", wantErr: "key prefix"},
		{name: "timeout", file: "models_dir: s3://bucket/\nrepository:\n  s3:\n    timeout: 5s\n", bucket: "bucket", s3: true, timeout: 5 * time.Second},
		{name: "timeout env", env: map[string]string{"MLSERVE_MODELS_DIR": "s3://bucket/", "MLSERVE_REPOSITORY_S3_TIMEOUT": "750ms"},
			bucket: "bucket", s3: true, timeout: 750 * time.Millisecond},
		{name: "negative timeout", file: "models_dir: s3://bucket/\nrepository:\n  s3:\n    timeout: -1s\n", wantErr: "repository.s3.timeout"},
		{name: "bad endpoint", file: "models_dir: s3://bucket/\nrepository:\n  s3:\n    endpoint: 127.0.0.1:9000\n", wantErr: "repository.s3.endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := load(path, envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			bucket, prefix, ok := c.S3Location()
			if ok != tt.s3 || bucket != tt.bucket || prefix != tt.prefix {
				t.Errorf("S3Location = %q %q %v, want %q %q %v", bucket, prefix, ok, tt.bucket, tt.prefix, tt.s3)
			}
			if got := time.Duration(c.Repository.S3.Timeout); got != tt.timeout {
				t.Errorf("timeout %s, want %s", got, tt.timeout)
			}
			if c.Repository.S3.Endpoint != tt.endpoint || c.Repository.CacheDir != tt.cacheDir {
				t.Errorf("repository = %+v", c.Repository)
			}
		})
	}
}

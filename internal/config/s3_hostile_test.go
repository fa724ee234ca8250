package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestS3Timeout: repository.s3.timeout is read from the file and the
// environment, and a negative one is refused naming the key.
func TestS3Timeout(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		want       time.Duration
		wantErr    string
	}{
		{name: "default", file: "models_dir: s3://bucket/\n"},
		{name: "file", file: "models_dir: s3://bucket/\nrepository:\n  s3:\n    timeout: 5s\n", want: 5 * time.Second},
		{name: "env", env: map[string]string{"MLSERVE_MODELS_DIR": "s3://bucket/", "MLSERVE_REPOSITORY_S3_TIMEOUT": "750ms"}, want: 750 * time.Millisecond},
		{name: "negative", file: "models_dir: s3://bucket/\nrepository:\n  s3:\n    timeout: -1s\n", wantErr: "repository.s3.timeout"},
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
			if got := time.Duration(c.Repository.S3.Timeout); got != tt.want {
				t.Errorf("timeout %s, want %s", got, tt.want)
			}
		})
	}
}

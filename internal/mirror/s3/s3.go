// Package s3 is the mirror's Store on an S3-compatible object store (AWS
// S3, MinIO, Ceph, GCS's S3 interoperability), through aws-sdk-go-v2.
//
// Credentials come from the standard AWS chain (environment, shared files
// and profiles, web identity as on EKS, the container or instance role):
// mlserve never reads a secret from its own configuration. With an
// endpoint (any store that is not AWS) buckets are addressed path-style,
// which every imitator understands, and checksums are sent and checked only
// where the protocol requires them, since several stores reject the newer
// defaults of the SDK.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mlserve/mlserve/internal/mirror"
)

// Options name the bucket and how to reach it.
type Options struct {
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is the key prefix of the repository inside the bucket: empty
	// or ending in "/".
	Prefix string
	// Endpoint is the store's URL when it is not AWS S3; it turns on
	// path-style addressing.
	Endpoint string
	// Region is the bucket's region; empty means the AWS chain's, else us-east-1.
	Region string
	// Timeout bounds how long a request waits on a store that makes no
	// progress: the answer's headers, a listing page, each stretch of a
	// download without a byte, each stretch of an upload whose body the
	// store does not take, the answer after an upload's last byte. A store
	// that accepts and never answers, or stalls mid-body, fails the call
	// with ErrUnavailable then. 0 is DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is Options.Timeout when it is 0. The SDK has none of its
// own: its HTTP client waits for an answer without end.
const DefaultTimeout = 30 * time.Second

// errStalled is the cause of a call cut because the store stopped
// answering.
var errStalled = errors.New("the store stalled")

// Store is a model repository under a prefix of one bucket.
type Store struct {
	client  *s3.Client
	bucket  string
	prefix  string
	timeout time.Duration
}

var _ mirror.Store = (*Store)(nil)

// New builds a Store from the AWS chain and o. It does not contact the store.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3: no bucket")
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("s3: negative timeout %s", o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	var loads []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		loads = append(loads, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("s3: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.UsePathStyle = true
		}
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{client: client, bucket: o.Bucket, prefix: o.Prefix, timeout: o.Timeout}, nil
}

// stallGuard returns ctx, cancelled with errStalled as its cause when
// progress is not called for d; stop releases it.
func stallGuard(ctx context.Context, d time.Duration) (_ context.Context, progress, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(d, func() { cancel(fmt.Errorf("%w: no progress for %s", errStalled, d)) })
	return ctx, func() { t.Reset(d) }, func() { t.Stop(); cancel(nil) }
}

// cause is err, or the stall that cut it.
func cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); errors.Is(c, errStalled) {
		return c
	}
	return err
}

// progressReader calls progress on every read that moved bytes.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

// String names the store for logs: s3://bucket/prefix/.
func (s *Store) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// List returns every object whose key (relative to the repository's
// prefix) starts with under, at most max of them (more is an error).
func (s *Store) List(ctx context.Context, under string, max int) ([]mirror.Object, error) {
	var out []mirror.Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + under),
	})
	for p.HasMorePages() {
		pctx, _, stop := stallGuard(ctx, s.timeout) // a page is small: the whole of it
		page, err := p.NextPage(pctx)
		err = cause(pctx, err)
		stop()
		if err != nil {
			return nil, fmt.Errorf("%w: listing %s%s: %v", mirror.ErrUnavailable, s, under, err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			out = append(out, mirror.Object{Key: key, ETag: etag(o.ETag), Size: aws.ToInt64(o.Size)})
		}
		if len(out) > max {
			return nil, fmt.Errorf("%w: %s holds more than %d objects", mirror.ErrTooMany, s, max)
		}
	}
	return out, nil
}

// Get copies the object key into w and returns the ETag of what it copied.
// A download may take as long as it needs while bytes arrive; one that
// stops for the timeout is cut.
func (s *Store) Get(ctx context.Context, key string, w io.Writer) (string, error) {
	ctx, progress, stop := stallGuard(ctx, s.timeout)
	defer stop()
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		err = cause(ctx, err)
		var nk *types.NoSuchKey
		if errors.As(err, &nk) {
			return "", fmt.Errorf("%w: %s%s", mirror.ErrGone, s, key)
		}
		return "", fmt.Errorf("%w: getting %s%s: %v", mirror.ErrUnavailable, s, key, err)
	}
	defer out.Body.Close()
	progress()
	if _, err := io.Copy(w, progressReader{r: out.Body, progress: progress}); err != nil {
		return "", fmt.Errorf("%w: reading %s%s: %v", mirror.ErrUnavailable, s, key, cause(ctx, err))
	}
	return etag(out.ETag), nil
}

// Put stores size bytes of body as the object key and returns its ETag.
// An upload may take as long as it needs while the store takes its body;
// one whose body stops moving for the timeout, or whose answer does not
// come within the timeout of the last byte, is cut. body stays seekable
// for the SDK: it reads it once for the payload's hash (over plain HTTP)
// and rewinds it for that and for every retry.
func (s *Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64) (string, error) {
	ctx, progress, stop := stallGuard(ctx, s.timeout)
	defer stop()
	pr := &putReader{r: body, progress: progress}
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key),
		Body: pr, ContentLength: aws.Int64(size),
	})
	if err != nil {
		if c := cause(ctx, err); errors.Is(c, errStalled) {
			if at := pr.pos.Load(); at < size {
				err = fmt.Errorf("%w (the upload stopped at %d of %d bytes)", c, at, size)
			} else {
				err = fmt.Errorf("%w (no answer after the %d bytes were sent)", c, size)
			}
		}
		return "", fmt.Errorf("%w: putting %s%s: %v", mirror.ErrUnavailable, s, key, err)
	}
	return etag(out.ETag), nil
}

// Delete removes the object key; one that is not there is no error (S3
// answers 204 either way). A store that does not answer within the timeout
// fails it with ErrUnavailable.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, _, stop := stallGuard(ctx, s.timeout) // one small answer: the whole of it
	defer stop()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		return fmt.Errorf("%w: deleting %s%s: %v", mirror.ErrUnavailable, s, key, cause(ctx, err))
	}
	return nil
}

// putReader is an upload's body: every read that moved bytes is progress,
// and seeks pass through, so the SDK can hash the body and rewind it.
// pos is where the last pass over it got to (the SDK's transport may still
// read it from its own goroutine when a cut call returns).
type putReader struct {
	r        io.ReadSeeker
	progress func()
	pos      atomic.Int64
}

func (p *putReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.pos.Add(int64(n))
		p.progress()
	}
	return n, err
}

func (p *putReader) Seek(offset int64, whence int) (int64, error) {
	n, err := p.r.Seek(offset, whence)
	if err == nil {
		p.pos.Store(n)
	}
	return n, err
}

// etag is an ETag without the quotes S3 puts around it.
func etag(p *string) string { return strings.Trim(aws.ToString(p), `"`) }

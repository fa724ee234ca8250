package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/app"
	"github.com/mlserve/mlserve/internal/config"
)

// ConfigEnv names the configuration file when --config is not given: a
// container image sets it to its baked-in file, so that arguments given to
// the container (KServe's --model_name) do not lose it.
const ConfigEnv = "MLSERVE_CONFIG"

// serveFlags are `mlserve serve`'s flags; they override the config file.
type serveFlags struct {
	config      string
	addr        string
	metricsAddr string
	logLevel    string
	grpcAddr    string
	modelName   string
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the mlserve HTTP server",
		Long: `Run the HTTP server: prediction and admin API, /docs, /openapi.json, and
Prometheus /metrics on the monitoring listener (with monitoring.enabled; when
it is off nothing is monitored and no metrics listener opens: POST /feedback
and GET /models/{id}/drift answer 404), and the Open Inference Protocol's gRPC
service on --grpc-addr (with grpc.enabled). Configuration comes from
--config (YAML), MLSERVE_... environment variables, then these flags.
SIGINT or SIGTERM shut it down gracefully.`,
		Example: `  mlserve serve
  mlserve serve --config config.yaml --addr 0.0.0.0:8000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.config, "config", os.Getenv(ConfigEnv), "configuration file (YAML; default $"+ConfigEnv+")")
	cmd.Flags().StringVar(&f.addr, "addr", "", "listen address HOST:PORT (default 127.0.0.1:8000)")
	cmd.Flags().StringVar(&f.metricsAddr, "metrics-addr", "", "monitoring listener HOST:PORT for /metrics (default 127.0.0.1:9090)")
	cmd.Flags().StringVar(&f.grpcAddr, "grpc-addr", "", "Open Inference Protocol gRPC listener HOST:PORT (default 127.0.0.1:8001; off with grpc.enabled: false)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error (default from the config: info)")
	cmd.Flags().StringVar(&f.modelName, "model_name", "", "the model's name, as KServe passes it: a flat models_dir's model is served as NAME-v1 (model_name)")
	return cmd
}

// loadConfig reads the configuration and applies the flags over it.
func loadConfig(f *serveFlags) (*config.Config, error) {
	c, err := config.Load(f.config)
	if err != nil {
		return nil, err
	}
	for key, v := range map[string]string{"listen_addr": f.addr, "monitoring.addr": f.metricsAddr, "log.level": f.logLevel,
		"grpc.addr": f.grpcAddr, "model_name": f.modelName} {
		if v == "" {
			continue
		}
		if err := c.Set(key, v); err != nil {
			return nil, err
		}
	}
	return c, c.Validate()
}

// serve reads the configuration and the logger, builds the model backends
// and monitoring it asks for, and hands them to app.Run.
func serve(ctx context.Context, f *serveFlags) error {
	c, err := loadConfig(f)
	if err != nil {
		return err
	}
	log, err := newLogger(c.Log.Level, c.Log.Format)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	promReg, mon, err := app.NewMonitoring(c.Monitoring, log)
	if err != nil {
		return fmt.Errorf("monitoring: %w", err)
	}
	return app.Run(ctx, c, app.Parts{
		Loaders:    app.Loaders(c, log),
		Prometheus: promReg,
		Monitor:    mon,
		Observe:    app.ObserveBatches(mon.Metrics()),
		Log:        log,
		Version:    Version,
	})
}

// newLogger is the process's one slog configuration.
func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	o := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, o)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, o)), nil
}

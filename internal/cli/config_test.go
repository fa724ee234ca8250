package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	_ = os.WriteFile(good, []byte("models_dir: "+dir+"\ndefault_model: spam-v1\nlisten_addr: 127.0.0.1:7000\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("max_batch_size: 0\n"), 0o644)
	tests := []struct {
		name              string
		f                 serveFlags
		wantAddr, wantErr string
	}{
		{name: "file", f: serveFlags{config: good}, wantAddr: "127.0.0.1:7000"},
		{name: "flag overrides file", f: serveFlags{config: good, addr: "127.0.0.1:7001"}, wantAddr: "127.0.0.1:7001"},
		{name: "bad value names key", f: serveFlags{config: bad}, wantErr: "max_batch_size"},
		{name: "bad flag", f: serveFlags{config: good, addr: "nonsense"}, wantErr: "listen_addr"},
		{name: "missing file", f: serveFlags{config: filepath.Join(dir, "nope.yaml")}, wantErr: "nope.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(&tc.f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.ListenAddr != tc.wantAddr {
				t.Fatalf("%v %+v", err, c)
			}
		})
	}
}

// TestGRPCAddrFlag: --grpc-addr overrides grpc.addr, and a bad one names the key.
func TestGRPCAddrFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	_ = os.WriteFile(good, []byte("models_dir: "+dir+"\n"), 0o644)
	c, err := loadConfig(&serveFlags{config: good, grpcAddr: "127.0.0.1:46202"})
	if err != nil || c.GRPC.Addr != "127.0.0.1:46202" {
		t.Fatalf("%v %+v", err, c)
	}
	if _, err := loadConfig(&serveFlags{config: good, grpcAddr: "nonsense"}); err == nil || !strings.Contains(err.Error(), "grpc.addr") {
		t.Fatalf("err %v, want one naming grpc.addr", err)
	}
}

// A container image names its config file in MLSERVE_CONFIG, so that the
// arguments KServe gives the container (--model_name) keep it.
func TestServeKServeFlags(t *testing.T) {
	dir := t.TempDir()
	baked := filepath.Join(dir, "baked.yaml")
	_ = os.WriteFile(baked, []byte("models_dir: "+dir+"\nlisten_addr: 0.0.0.0:8080\n"), 0o644)
	t.Setenv(ConfigEnv, baked)
	cmd := newServeCmd()
	if err := cmd.ParseFlags([]string{"--model_name=sentiment"}); err != nil {
		t.Fatal(err)
	}
	f := &serveFlags{}
	f.config, _ = cmd.Flags().GetString("config")
	f.modelName, _ = cmd.Flags().GetString("model_name")
	c, err := loadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "0.0.0.0:8080" || c.ModelName != "sentiment" || c.DefaultModelRef() != "sentiment" {
		t.Fatalf("config from $%s and --model_name: addr %s model_name %q default %q", ConfigEnv, c.ListenAddr, c.ModelName, c.DefaultModelRef())
	}
	if err := cmd.ParseFlags([]string{"--config", filepath.Join(dir, "nope.yaml")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := cmd.Flags().GetString("config"); got == baked {
		t.Fatal("--config did not override $" + ConfigEnv)
	}
}

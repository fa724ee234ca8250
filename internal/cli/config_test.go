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

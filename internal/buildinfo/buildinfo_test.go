package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuild(t *testing.T) {
	commit := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/tobira/tobira", Version: "v0.0.0-20261126213212-66a8bf1e2c3d+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"},
			{Key: "vcs.revision", Value: "66a8bf1e2c3d4b5a69788796a5b4c3d2e1f00112"},
			{Key: "vcs.time", Value: "2026-11-26T21:32:12Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	noVCS := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tobira/tobira", Version: "(devel)"}}
	for _, tc := range []struct {
		name    string
		bi      *debug.BuildInfo
		release string
		want    Info
		line    string
	}{
		{"from a checkout", commit, "", Info{Version: "v0.0.0-20261126213212-66a8bf1e2c3d+dirty",
			Revision: "66a8bf1e2c3d4b5a69788796a5b4c3d2e1f00112", Time: "2026-11-26T21:32:12Z", Modified: true, Go: "go1.26.8"},
			"v0.0.0-20261126213212-66a8bf1e2c3d+dirty (66a8bf1e2c3d, 2026-11-26T21:32:12Z, modified) go1.26.8 "},
		{"the linker's release wins", commit, "v1.4.0", Info{Version: "v1.4.0",
			Revision: "66a8bf1e2c3d4b5a69788796a5b4c3d2e1f00112", Time: "2026-11-26T21:32:12Z", Modified: true, Go: "go1.26.8"},
			"v1.4.0 (66a8bf1e2c3d, 2026-11-26T21:32:12Z, modified) go1.26.8 "},
		{"an image built without .git", noVCS, "v1.4.0", Info{Version: "v1.4.0", Go: "go1.26.8"}, "v1.4.0 go1.26.8 "},
		{"nothing known", noVCS, "", Info{Version: "(devel)", Go: "go1.26.8"}, "(devel) go1.26.8 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuild(tc.bi, tc.release)
			tc.want.Platform = got.Platform
			if got != tc.want {
				t.Errorf("fromBuild = %+v\nwant %+v", got, tc.want)
			}
			if line := got.String(); !strings.HasPrefix(line, tc.line) || !strings.HasSuffix(line, got.Platform) {
				t.Errorf("String = %q, want %q followed by the platform", line, tc.line)
			}
		})
	}
	if got := fromBuild(nil, ""); got.Version != "(devel)" || got.Go == "" {
		t.Errorf("fromBuild(nil) = %+v, want (devel) and the running Go", got)
	}
}

// Package buildinfo says which build of Tobira is running: for the
// operator's `tobira version`, the server's start-up log and /metrics.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is the release a build that carries no version control
// information was made from, set by the linker: the container image is
// built without the repository's .git, so its Dockerfile passes
// -ldflags "-X github.com/tobira/tobira/internal/buildinfo.version=v1.2.3".
var version string

// Info describes one build.
type Info struct {
	// Version is the release (from the linker flag), else the module's
	// version as Go derives it from the commit ("v0.0.0-20261126213212-
	// 66a8bf1e2c3d", "+dirty" when built from modified files), else
	// "(devel)".
	Version string
	// Revision and Time are the commit's, empty when the build did not
	// record them; Modified: the build had uncommitted changes.
	Revision string
	Time     string
	Modified bool
	// Go is the toolchain, Platform the operating system and architecture.
	Go       string
	Platform string
}

// Read returns this program's build.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuild(bi, version)
}

// fromBuild is Read from what the runtime recorded and the linker's release.
func fromBuild(bi *debug.BuildInfo, release string) Info {
	in := Info{Version: release, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		if in.Version == "" {
			in.Version = "(devel)"
		}
		return in
	}
	if bi.GoVersion != "" {
		in.Go = bi.GoVersion
	}
	if in.Version == "" {
		in.Version = bi.Main.Version
	}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the build on one line, e.g. "v1.2.3 (66a8bf1e2c3d,
// 2026-11-26T21:32:12Z, modified) go1.26.8 linux/amd64".
func (in Info) String() string {
	var commit []string
	if in.Revision != "" {
		commit = append(commit, shortRevision(in.Revision))
	}
	if in.Time != "" {
		commit = append(commit, in.Time)
	}
	if in.Modified {
		commit = append(commit, "modified")
	}
	s := in.Version
	if len(commit) > 0 {
		s += " (" + strings.Join(commit, ", ") + ")"
	}
	return fmt.Sprintf("%s %s %s", s, in.Go, in.Platform)
}

// shortRevision is a commit hash cut to the 12 characters Go's own
// pseudo-versions use.
func shortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

package testkit

import (
	"testing"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/secret"
)

// CheapArgon2 hashes passwords in well under a millisecond: tests sign in
// often, and the cost is not what they check.
var CheapArgon2 = account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

// Config is the default configuration of a test: its data in a temporary
// folder, a fresh secret key, passwords hashed cheaply; each change edits
// it in turn, and the result must be valid.
func Config(t testing.TB, change ...func(*config.Config)) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.SecretKey = secret.NewKey()
	cfg.Argon2 = CheapArgon2
	for _, f := range change {
		f(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

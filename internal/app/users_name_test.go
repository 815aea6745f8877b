package app_test

import (
	"strings"
	"testing"
)

// users create refuses a name with a bidi control, saying why, where it
// opened the account (and mailed 山本二郎 reversed); a name too long still
// says how long one may be.
func TestUsersCreateRefusesNameChars(t *testing.T) {
	dir, env := dataDir(t, ""), keyEnv()
	r := run(t, env, "users", "create", "--email", "yamamoto@example.jp", "--name", "山本\u202e郎二", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "the name cannot contain line breaks, control characters or invisible format characters") {
		t.Errorf("a bidi override in the name: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, env, "users", "create", "--email", "yamamoto@example.jp", "--name", strings.Repeat("山", 101), "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "the name must be 1 to 100 characters") {
		t.Errorf("a name of 101 characters: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, env, "users", "list", "--data", dir); strings.Contains(r.stdout, "yamamoto@example.jp") {
		t.Errorf("a refused name opened the account:\n%s", r.stdout)
	}
}

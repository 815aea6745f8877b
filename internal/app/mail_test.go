package app_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store/sqlstore"
)

// Opening an account queues the activation mail (開通メール) with the link
// the command prints; with the outbox sender it is marked sent at once.
func TestUsersCreateQueuesActivationMail(t *testing.T) {
	dir := dataDir(t, "")
	r := run(t, keyEnv(), "users", "create", "--email", "hanako@example.jp", "--name", "佐藤 花子", "--data", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	link := linkRe.FindString(r.stdout)
	db, err := sqlstore.OpenSQLite(filepath.Join(dir, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mails, err := db.ListMails(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 {
		t.Fatalf("%d mails, want the activation mail", len(mails))
	}
	m := mails[0]
	if m.To != "hanako@example.jp" || !strings.Contains(m.Subject, "開通") || !strings.Contains(m.Text, link) ||
		!strings.Contains(m.HTML, "佐藤 花子") || m.SentAt.IsZero() {
		t.Errorf("activation mail: to %s, subject %q, sent %v, link in text %v", m.To, m.Subject, m.SentAt, strings.Contains(m.Text, link))
	}
}

// users create --lang en opens an account whose activation mail, and the
// mails after it, are English; a language the mails do not exist in is
// refused and opens nothing.
func TestUsersCreateInEnglish(t *testing.T) {
	dir, env := dataDir(t, ""), keyEnv()
	if r := run(t, env, "users", "create", "--email", "ann@example.jp", "--name", "Ann", "--lang", "fr", "--data", dir); r.code != 1 || !strings.Contains(r.stderr, "--lang") {
		t.Errorf("--lang fr: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, env, "users", "create", "--email", "ann@example.jp", "--name", "Ann", "--lang", "en", "--data", dir); r.code != 0 {
		t.Fatalf("--lang en: exit %d: %s", r.code, r.stderr)
	}
	db, err := sqlstore.OpenSQLite(filepath.Join(dir, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.AccountByEmail(t.Context(), "ann@example.jp")
	if err != nil || a.Lang != "en" {
		t.Fatalf("account: %+v, %v; want its language en", a, err)
	}
	mails, err := db.ListMails(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 || !strings.Contains(mails[0].Subject, "Your account is ready") {
		t.Errorf("mails: %+v, want one English activation mail", mails)
	}
	db.Close()
	r := run(t, env, "users", "list", "--data", dir)
	if f := strings.Fields(lastLine(r.stdout)); r.code != 0 || !strings.Contains(r.stdout, "MAILS") || len(f) == 0 || f[len(f)-1] != "en" {
		t.Errorf("users list does not say the mails are in English:\n%s", r.stdout)
	}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// A configuration that selects SMTP without a server is refused clearly.
func TestSMTPConfigChecked(t *testing.T) {
	dir := dataDir(t, `, "mail": {"sender": "smtp", "smtp_host": ""}`)
	r := run(t, keyEnv(), "users", "list", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "mail") {
		t.Fatalf("exit %d, stderr %q: want a mail configuration error", r.code, r.stderr)
	}
}

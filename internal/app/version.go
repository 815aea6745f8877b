package app

import (
	"fmt"
	"io"

	"github.com/tobira/tobira/internal/buildinfo"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// version prints which build this is and the schema version its
// migrations take a database to, for upgrades and support requests.
//
// It takes the flags every command takes (--config, --data, --database),
// and reads none of them: it opens no database. So the tobira-admin script
// of OPERATIONS.md, which adds --config and --data to every command, runs it
// too.
func (m *Main) version(args []string) error {
	f := m.flags("version")
	f.SetOutput(io.Discard)
	if err := f.Parse(args); err != nil || f.NArg() > 0 {
		fmt.Fprint(m.Stderr, "usage: tobira version\n")
		return errUsage
	}
	schema, err := sqlstore.SchemaVersion()
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "tobira %s\ndatabase schema %d\n", buildinfo.Read(), schema)
	return nil
}

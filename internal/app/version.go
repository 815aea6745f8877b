package app

import (
	"fmt"

	"github.com/tobira/tobira/internal/buildinfo"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// version prints which build this is and the schema version its
// migrations take a database to, for upgrades and support requests.
func (m *Main) version(args []string) error {
	if len(args) > 0 {
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

package sqlstore

import (
	"context"
	"slices"
)

// sweepBatch is how many rows one statement of a sweep of expired rows
// deletes. Each statement is a write of its own, so SQLite's one writer
// serves sign-ins between them: a sweep may find hundreds of thousands of
// rows (the sessions of a busy morning, twelve hours on; the counters of a
// spray of made-up addresses), and 300,000 sessions deleted by one statement
// held every write of the process for two seconds.
const sweepBatch = 250

// sweep deletes the rows of table for which cond holds, sweepBatch at a
// time, until none is left, and returns how many it deleted. key is the
// table's primary key (columns separated by commas), by which a batch's
// rows are found again; cond should be served by an index, as every batch
// looks for its rows anew.
func (db *DB) sweep(ctx context.Context, what, table, key, cond string, args ...any) (int64, error) {
	q := `DELETE FROM ` + table + ` WHERE (` + key + `) IN (
		SELECT ` + key + ` FROM ` + table + ` WHERE ` + cond + ` LIMIT ?)`
	args = append(slices.Clip(args), sweepBatch)
	var total int64
	for {
		n, err := db.c().affected(ctx, q, args...)
		total += n
		if err != nil || n < sweepBatch {
			return total, db.fail(what, err)
		}
	}
}

package sqlstore

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// syncer makes the writer's commits durable beside it. With the database
// set to wait for the disk (synchronous = FULL), the writer's own
// connection commits without waiting (NORMAL: the log's pages are written
// to the file, not synced) and hands the callers of the batch to the
// syncer, which syncs the log once for every batch handed over since its
// last sync and only then answers them. Meanwhile the writer runs the next
// batch: a sync no longer holds up every write queued behind it, and one
// sync serves all the batches committed while the previous one ran.
//
// The durability is FULL's: a caller hears back only after a sync that
// started after its commit was written, which is what FULL's sync at the
// commit gives; SQLite's file stays whole at any crash either way.
type syncer struct {
	log *os.File // the write-ahead log, opened for its syncs alone

	mu      sync.Mutex
	pending []answer // committed, waiting for the next sync
	failed  error    // a sync failed: every later one fails too

	wake    chan struct{} // buffered: a sync is wanted
	done    chan struct{} // closed by close
	once    sync.Once
	stopped chan struct{} // closed by loop as it returns
	syncs   atomic.Int64  // syncs done (Stats)
}

// answer is what a caller of a committed batch is told after the sync.
type answer struct {
	r   *writeReq
	err error // the caller's own outcome in the batch
}

func newSyncer(logPath string) (*syncer, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: the write-ahead log, to sync it: %w", err)
	}
	s := &syncer{log: f, wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go s.loop()
	return s, nil
}

// handOver queues answers for the next sync; their batch is committed.
func (s *syncer) handOver(as []answer) {
	if len(as) == 0 {
		return
	}
	s.mu.Lock()
	s.pending = append(s.pending, as...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a sync is wanted already, and will take these too
	}
}

// err is the failure of an earlier sync, if any: after it the writer
// refuses every write, since the disk may have dropped pages it was
// handed (a failed fsync is not made good by a later one that succeeds).
func (s *syncer) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *syncer) loop() {
	defer close(s.stopped)
	for {
		select {
		case <-s.wake:
			s.flush()
		case <-s.done:
			s.flush() // the last batches' callers still hear back
			return
		}
	}
}

// flush syncs the log once for every answer pending, then answers them.
func (s *syncer) flush() {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	failed := s.failed
	s.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	err := failed
	if err == nil {
		if err = datasync(s.log); err != nil {
			err = fmt.Errorf("sqlstore: syncing the write-ahead log failed; writes are refused until the process restarts: %w", err)
			s.mu.Lock()
			s.failed = err
			s.mu.Unlock()
		}
		s.syncs.Add(1)
	}
	for _, a := range batch {
		if err != nil {
			a.r.err <- err
		} else {
			a.r.err <- a.err
		}
	}
}

// close answers what is pending and stops the syncer; a second close
// does nothing.
func (s *syncer) close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		<-s.stopped
		err = s.log.Close()
	})
	return err
}

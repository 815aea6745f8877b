package notify

import (
	"maps"
	"sync"
	"testing"
)

func TestStats(t *testing.T) {
	var s Stats
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			s.record(SMS, true)
			s.record(SMS, true)
			s.record(SMS, false)
			s.record(Voice, true)
			s.record(Voice, false)
			s.record(Voice, false)
			s.record("fax", true) // not a channel: not counted
		})
	}
	wg.Wait()
	want := map[string]int64{"sms_sent": 20, "sms_failed": 10, "voice_sent": 10, "voice_failed": 20}
	if got := s.Snapshot(); !maps.Equal(got, want) {
		t.Errorf("Snapshot = %v, want %v", got, want)
	}
}

func TestNilStats(t *testing.T) {
	var s *Stats
	s.record(SMS, true) // must not panic
	want := map[string]int64{"sms_sent": 0, "sms_failed": 0, "voice_sent": 0, "voice_failed": 0}
	if got := s.Snapshot(); !maps.Equal(got, want) {
		t.Errorf("Snapshot = %v, want %v", got, want)
	}
}

package notify

import "sync/atomic"

// Stats counts sends per channel for operators. The zero value is ready; one
// Stats is shared by every sender it is given to. A nil *Stats counts
// nothing, so senders work without one.
type Stats struct {
	smsSent, smsFailed, voiceSent, voiceFailed atomic.Int64
}

// record counts one send of ch that succeeded or not.
func (s *Stats) record(ch Channel, ok bool) {
	if s == nil {
		return
	}
	switch {
	case ch == SMS && ok:
		s.smsSent.Add(1)
	case ch == SMS:
		s.smsFailed.Add(1)
	case ch == Voice && ok:
		s.voiceSent.Add(1)
	case ch == Voice:
		s.voiceFailed.Add(1)
	}
}

// Snapshot returns the counters now: "sms_sent", "sms_failed",
// "voice_sent" and "voice_failed", always all four.
func (s *Stats) Snapshot() map[string]int64 {
	if s == nil {
		s = new(Stats)
	}
	return map[string]int64{
		"sms_sent":     s.smsSent.Load(),
		"sms_failed":   s.smsFailed.Load(),
		"voice_sent":   s.voiceSent.Load(),
		"voice_failed": s.voiceFailed.Load(),
	}
}

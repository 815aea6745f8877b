package notify

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

type fakeOutbox struct {
	got []store.OutboxMessage
	err error
}

func (f *fakeOutbox) AppendOutbox(_ context.Context, m *store.OutboxMessage) error {
	if f.err != nil {
		return f.err
	}
	m.ID = int64(len(f.got) + 1)
	f.got = append(f.got, *m)
	return nil
}

func TestOutboxSend(t *testing.T) {
	now := time.Date(2026, 4, 1, 9, 30, 0, 0, time.UTC)
	sms := Code{To: "+819012345678", Channel: SMS, Code: "123456", Lang: "ja", Service: "Tobira", ValidMinutes: 5}
	voice := sms
	voice.Channel = Voice
	voiceEN := voice
	voiceEN.Lang = "en"

	tests := []struct {
		name string
		c    Code
		want store.OutboxMessage
	}{
		{"sms", sms, store.OutboxMessage{ID: 1, At: now, To: "+819012345678", Channel: "sms", Body: SMSBody(sms)}},
		{"voice", voice, store.OutboxMessage{ID: 1, At: now, To: "+819012345678", Channel: "voice", Body: VoiceTranscript(voice)}},
		{"voice en", voiceEN, store.OutboxMessage{ID: 1, At: now, To: "+819012345678", Channel: "voice", Body: VoiceTranscript(voiceEN)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeOutbox{}
			stats := &Stats{}
			o := &Outbox{Store: f, Now: func() time.Time { return now }, Stats: stats}
			if err := o.Send(context.Background(), tt.c); err != nil {
				t.Fatal(err)
			}
			if len(f.got) != 1 || f.got[0] != tt.want {
				t.Fatalf("stored %+v, want %+v", f.got, tt.want)
			}
			if stats.Snapshot()[string(tt.c.Channel)+"_sent"] != 1 {
				t.Errorf("stats %v", stats.Snapshot())
			}
		})
	}
}

func TestOutboxFailures(t *testing.T) {
	ok := Code{To: "+819012345678", Channel: SMS, Code: "123456", Lang: "ja"}
	bad := ok
	bad.Channel = "fax"
	noTo := ok
	noTo.To = ""
	tests := []struct {
		name      string
		c         Code
		storeErr  error
		wantStats map[string]int64
	}{
		{"store fails", ok, errors.New("disk full"), map[string]int64{"sms_failed": 1}},
		{"unknown channel", bad, nil, map[string]int64{}},
		{"no number", noTo, nil, map[string]int64{"sms_failed": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeOutbox{err: tt.storeErr}
			stats := &Stats{}
			o := &Outbox{Store: f, Stats: stats}
			err := o.Send(context.Background(), tt.c)
			if !errors.Is(err, ErrSend) {
				t.Fatalf("err = %v, want ErrSend", err)
			}
			if tt.storeErr != nil && !errors.Is(err, tt.storeErr) {
				t.Errorf("err = %v does not wrap the store's", err)
			}
			if len(f.got) != 0 {
				t.Errorf("stored %+v", f.got)
			}
			want := map[string]int64{"sms_sent": 0, "sms_failed": 0, "voice_sent": 0, "voice_failed": 0}
			maps.Copy(want, tt.wantStats)
			if got := stats.Snapshot(); !maps.Equal(got, want) {
				t.Errorf("stats %v, want %v", got, want)
			}
		})
	}
}

// The default clock is used when Now is nil.
func TestOutboxDefaultNow(t *testing.T) {
	f := &fakeOutbox{}
	before := time.Now()
	if err := (&Outbox{Store: f}).Send(context.Background(), Code{To: "+819012345678", Channel: SMS, Code: "1"}); err != nil {
		t.Fatal(err)
	}
	if f.got[0].At.Before(before) {
		t.Errorf("At = %v, before %v", f.got[0].At, before)
	}
}

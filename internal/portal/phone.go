package portal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/notify"
	"github.com/tobira/tobira/internal/phone"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// MethodPhone is a code by text message or voice call.
const MethodPhone Method = "phone"

// Errors of the phone steps, each with its own message for the customer.
var (
	ErrInvalidPhone       = errors.New("portal: invalid phone number")
	ErrCountryNotAllowed  = errors.New("portal: phone numbers of this country are not accepted")
	ErrSendFailed         = errors.New("portal: the code could not be sent")
	ErrNoPhoneCode        = errors.New("portal: no code was sent, or it was replaced")
	ErrPhoneCodeExpired   = errors.New("portal: the code expired")
	ErrPhoneCodeExhausted = errors.New("portal: too many tries for this code")
	ErrUnknownChannel     = errors.New("portal: a code comes by text message or voice call only")
	ErrCannotText         = errors.New("portal: this number cannot receive text messages")
	ErrNotPersonalPhone   = errors.New("portal: the number is no personal line")
)

// SendLimitError says a sending limit is reached, which one, and until when.
type SendLimitError struct {
	Until time.Time
	// Limit is "account", "number", "client" or "budget".
	Limit string
}

func (e *SendLimitError) Error() string {
	return fmt.Sprintf("portal: %s send limit reached until %s", e.Limit, e.Until.Format(time.RFC3339))
}

// ResendError says a new code may be asked for only after a pause.
type ResendError struct {
	Wait time.Duration
	// InFlight says that the number and channel typed at enrolment are
	// those of the flow's code in flight, which still works: nothing was
	// sent, and the code screen is where the customer should be.
	InFlight bool
}

func (e *ResendError) Error() string { return fmt.Sprintf("portal: resend in %s", e.Wait) }

// SentCode describes the code in flight for a flow, for the code screen.
type SentCode struct {
	Phone   string // E.164
	Channel notify.Channel
	// Chosen is the channel the customer chose for the number, which
	// enrolment saves; Channel differs after a resend by the other one.
	Chosen notify.Channel
	// ResendIn is how long until a new code may be asked for.
	ResendIn time.Duration
	// Channels are those a code can come by to this number.
	Channels []notify.Channel
}

// ChannelsFor returns the channels a code can come by to an E.164 number:
// a voice call to any, a text message only to a number that receives one.
func ChannelsFor(e164 string) []notify.Channel {
	if phone.CanText(e164) {
		return []notify.Channel{notify.SMS, notify.Voice}
	}
	return []notify.Channel{notify.Voice}
}

// PhoneFactor returns the account's phone; ErrNoSuchMethod when it has none.
func (s *Service) PhoneFactor(ctx context.Context, accountID string) (*store.Factor, error) {
	fs, err := s.Store.FactorsOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.Kind == store.FactorPhone {
			return &f, nil
		}
	}
	return nil, ErrNoSuchMethod
}

// SentCodeOf returns the code in flight for the flow; ErrNoPhoneCode when none.
func (s *Service) SentCodeOf(ctx context.Context, f *Flow) (*SentCode, error) {
	pc, err := s.Store.PhoneCodeOf(ctx, f.IDHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoPhoneCode
	}
	if err != nil {
		return nil, err
	}
	wait := max(pc.SentAt.Add(s.Config.Phone.ResendAfter.Duration).Sub(s.Now()), 0)
	return &SentCode{
		Phone: pc.Phone, Channel: notify.Channel(pc.Channel), Chosen: chosenOf(pc),
		ResendIn: wait, Channels: ChannelsFor(pc.Phone),
	}, nil
}

// chosenOf is the channel the customer chose for the number of pc: on the
// number form at enrolment, the phone's own at the second factor. A code
// stored before the choice was kept apart (migration 0032) has only the
// channel it went by.
func chosenOf(pc *store.PhoneCode) notify.Channel {
	if pc.Chosen != "" {
		return notify.Channel(pc.Chosen)
	}
	return notify.Channel(pc.Channel)
}

// EnrolPhone checks a number typed at enrolment (manual XI. III) for the
// chosen country and sends it a code by the chosen channel. The same number
// and channel again within the pause (「編集」, then 「続ける」 unchanged)
// send nothing: the *ResendError says InFlight when the flow's code to that
// number, chosen for that channel (a one-off call changes no choice), still
// works. Another number or channel within the pause is refused as before.
func (s *Service) EnrolPhone(ctx context.Context, f *Flow, region, number string, ch notify.Channel, lang string, c Client) error {
	if f.State != StateEnrol {
		return ErrWrongStep
	}
	e164, err := phone.Parse(number, region)
	if errors.Is(err, phone.ErrNotPersonal) {
		return ErrNotPersonalPhone
	}
	if err != nil {
		return ErrInvalidPhone
	}
	if !slices.Contains(s.Config.Phone.Countries, phone.Region(e164)) {
		return ErrCountryNotAllowed
	}
	err = s.sendCode(ctx, f, e164, ch, ch, lang, c)
	if resend, ok := errors.AsType[*ResendError](err); ok {
		pc, err2 := s.Store.PhoneCodeOf(ctx, f.IDHash)
		if err2 == nil && pc.Phone == e164 && chosenOf(pc) == ch &&
			pc.Attempts < s.Config.Phone.CodeAttempts && s.Now().Before(pc.ExpiresAt) {
			resend.InFlight = true
		}
	}
	return err
}

// ConfirmPhone checks the code sent at enrolment, saves the phone as the
// account's factor and moves the flow to the recovery screen.
func (s *Service) ConfirmPhone(ctx context.Context, f *Flow, code string, c Client) error {
	if f.State != StateEnrol {
		return ErrWrongStep
	}
	a, err := s.Account(ctx, f)
	if err != nil {
		return err
	}
	pc, charged, err := s.checkPhoneCode(ctx, f, a, code, c, store.ActionMFAEnrol)
	if err != nil {
		return err
	}
	if err := s.refuseLocked(ctx, a.ID, store.ActionMFAEnrol, c); err != nil {
		return err
	}
	// The phone keeps the channel chosen on the number form: a code asked
	// for once by the other (「音声通話で受け取る」) changes no later
	// sign-in. How this code came is what it proved.
	err = s.enrolFirst(ctx, f, &store.Factor{
		ID: secret.ID(), AccountID: a.ID, Kind: store.FactorPhone, Secret: pc.Phone, Channel: string(chosenOf(pc)),
		LastStep: -1, CreatedAt: s.Now(),
	}, amrOf(pc.Channel))
	if err := s.enrolled(ctx, charged, c, err); err != nil {
		return err
	}
	s.notice(ctx, a, mail.EventMFAEnrolled, c)
	return nil
}

// ResendCode sends a new code to the number of the code in flight, by ch;
// the earlier code stops working. The number keeps the channel chosen for
// it: a resend by the other is for this code alone.
func (s *Service) ResendCode(ctx context.Context, f *Flow, ch notify.Channel, lang string, c Client) error {
	if f.State != StateEnrol && f.State != StateMFA {
		return ErrWrongStep
	}
	if err := s.stepUpLive(ctx, f); err != nil {
		return err
	}
	pc, err := s.Store.PhoneCodeOf(ctx, f.IDHash)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoPhoneCode
	}
	if err != nil {
		return err
	}
	return s.sendCode(ctx, f, pc.Phone, ch, chosenOf(pc), lang, c)
}

// SendSignInCode sends a code to the account's phone at the second-factor
// step; an empty ch uses the channel the customer chose at enrolment.
func (s *Service) SendSignInCode(ctx context.Context, f *Flow, ch notify.Channel, lang string, c Client) error {
	if f.State != StateMFA {
		return ErrWrongStep
	}
	// No text for a step-up of a session that has ended.
	if err := s.stepUpLive(ctx, f); err != nil {
		return err
	}
	p, err := s.PhoneFactor(ctx, f.AccountID)
	if err != nil {
		return err
	}
	if ch == "" {
		ch = notify.Channel(p.Channel)
	}
	return s.sendCode(ctx, f, p.Secret, ch, notify.Channel(p.Channel), lang, c)
}

// sendCode sends a fresh code for the flow by ch, replacing any earlier one,
// and keeps chosen as the channel chosen for the number. Every
// limit is counted before anything is sent, in the database, so the limits
// hold across nodes and under parallel requests.
func (s *Service) sendCode(ctx context.Context, f *Flow, e164 string, ch, chosen notify.Channel, lang string, c Client) error {
	if !ch.Valid() {
		return ErrUnknownChannel
	}
	// Checked here, where every send passes (enrolment, 「再送信」, the
	// switch of channel, the sign-in), so that a landline enrolled for
	// voice calls is never sent a text that cannot arrive.
	if !slices.Contains(ChannelsFor(e164), ch) {
		return ErrCannotText
	}
	now := s.Now()
	cfg := s.Config.Phone
	// While the step is closed no code could be used: sending one would
	// only spend a message.
	a, err := s.Store.AccountByID(ctx, f.AccountID)
	if err != nil {
		return err
	}
	if mfa.Locked(a.MFALockedUntil, now) {
		s.audit(ctx, f.AccountID, store.ActionPhoneSend, "refused", c, string(ch))
		return &LockedError{Until: a.MFALockedUntil}
	}
	// A code in flight makes this a resend.
	resend := false
	if _, err := s.Store.PhoneCodeOf(ctx, f.IDHash); err == nil {
		resend = true
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	code := mfa.NewPhoneCode()
	pc := &store.PhoneCode{
		FlowHash: f.IDHash, AccountID: f.AccountID, Phone: e164, Channel: string(ch), Chosen: string(chosen),
		CodeHash: s.phoneCodeHash(f, code), SentAt: now, ExpiresAt: now.Add(cfg.CodeTTL.Duration),
	}
	// The pause is checked and the code stored in one unit: of two sends
	// asked for at once (a double tap on 「再送信」, two tabs), one stores
	// its code and the other finds it and is told to wait. Checked apart,
	// both passed, and two messages went out, the first of them replaced
	// already (「このコードは新しいコードを送信したため無効になりました。」
	// when typed).
	err = s.atomically(ctx, func(ctx context.Context, u *Service) error {
		return u.holdCode(ctx, f, pc, ch, c)
	})
	if err != nil {
		return err
	}
	err = s.Sender.Send(ctx, notify.Code{
		To: e164, Channel: ch, Code: code, Lang: lang, Service: s.Config.Issuer,
		ValidMinutes: int(cfg.CodeTTL.Minutes()),
	})
	if err != nil {
		// The customer asks again; a code nobody received must not work.
		_ = s.Store.DeletePhoneCode(ctx, f.IDHash)
		s.Log.Error("phone code not sent", "account", f.AccountID, "channel", ch, "err", err)
		s.audit(ctx, f.AccountID, store.ActionPhoneSend, "fail", c, string(ch))
		return ErrSendFailed
	}
	action := store.ActionPhoneSend
	if resend {
		action = store.ActionPhoneResend
	}
	s.audit(ctx, f.AccountID, action, "ok", c, string(ch))
	return nil
}

// holdCode stores pc as the flow's code in flight, unless the account's
// pause between codes or a sending limit holds it back.
func (s *Service) holdCode(ctx context.Context, f *Flow, pc *store.PhoneCode, ch notify.Channel, c Client) error {
	now := pc.SentAt
	// The pause holds for the account, whichever flow sent its last code:
	// starting sign-ins or step-ups one after another must not get around it.
	if last, err := s.Store.LatestPhoneCode(ctx, f.AccountID); err == nil {
		if wait := last.SentAt.Add(s.Config.Phone.ResendAfter.Duration).Sub(now); wait > 0 {
			return &ResendError{Wait: wait}
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// At the second factor the number is the account's own, confirmed at
	// its enrolment; at enrolment it is whatever was typed.
	if err := s.chargeSend(ctx, f.AccountID, pc.Phone, f.State == StateMFA, c, now); err != nil {
		s.audit(ctx, f.AccountID, store.ActionPhoneSend, "limited", c, string(ch))
		return err
	}
	return s.Store.PutPhoneCode(ctx, pc)
}

// chargeSend counts one message against every sending limit and refuses
// when any is exceeded. A refused message gives back what it counted, so it
// uses up no allowance.
//
// The messages to a number are counted apart for the number an account
// enrolled (enrolled: the sign-in's codes) and for numbers typed at
// enrolment, which anyone signing in to an account without a second factor
// may type: with one count, someone's own enrolment could use up another
// customer's number for the hour, with codes they need not receive, and
// leave its owner without a code to sign in with, every hour. A number's
// sign-in codes go only to the accounts that proved they receive its codes.
func (s *Service) chargeSend(ctx context.Context, accountID, e164 string, enrolled bool, c Client, now time.Time) error {
	cfg := s.Config.Phone
	number := "sms:number:" + e164
	if enrolled {
		number = "sms:number:enrolled:" + e164
	}
	over, until, counts, err := s.count(ctx, now, []limit{
		{"account", "sms:account:" + accountID, cfg.PerAccountHour, time.Hour},
		{"number", number, cfg.PerNumberHour, time.Hour},
		{"client", "sms:client:" + clientKey(c.IP), cfg.PerClientHour, time.Hour},
		{"budget", "sms:budget", cfg.DailyBudget, 24 * time.Hour},
	})
	switch {
	case err != nil:
		return err
	case over != nil && over.name == "budget":
		s.budgetUsedUp(ctx, now)
		fallthrough
	case over != nil:
		return &SendLimitError{Until: until, Limit: over.name}
	}
	if sent := counts[len(counts)-1]; sent == cfg.DailyBudget*8/10 {
		s.Log.Warn("phone: 80 % of the daily message budget is used", "sent", sent, "budget", cfg.DailyBudget)
	}
	return nil
}

// budgetUsedUp tells operators, once a day, that the budget stopped codes.
func (s *Service) budgetUsedUp(ctx context.Context, now time.Time) {
	if n, err := s.Store.Hit(ctx, "sms:budget:alerted", 24*time.Hour, now, 1); err == nil && n == 1 {
		s.Log.Error("phone: the daily message budget is used up; codes are refused until the next day (UTC)",
			"budget", s.Config.Phone.DailyBudget)
	}
}

// wrongCodesOf is the limit of the wrong codes typed for the codes sent to
// the number e164 (DESIGN.md: wrong codes are counted per phone number too),
// of every account and from any address: enrolled at the second factor,
// where it is an account's own, and apart from the enrolments', as
// chargeSend counts the messages, so that whoever enrols cannot close
// another customer's sign-ins with wrong codes typed for their number.
func (s *Service) wrongCodesOf(e164 string, enrolled bool) limit {
	key := "mfa:number:" + e164
	if enrolled {
		key = "mfa:number:enrolled:" + e164
	}
	return limit{"number", key, s.Config.Phone.WrongPerNumberHour, time.Hour}
}

// phoneCodeHash is a keyed hash: six digits would fall to a brute force of a
// plain hash in no time.
func (s *Service) phoneCodeHash(f *Flow, code string) string {
	return s.Keys.Sign("phone code", f.IDHash, code)
}

// checkPhoneCode checks a code against the flow's code in flight. The attempt
// counts in the account's counter of every factor and in the code's own;
// input that is no six-digit code counts in neither (ErrCodeFormat). A right
// code's attempt is returned for the caller to settle (right) once what the
// code was for is done.
func (s *Service) checkPhoneCode(ctx context.Context, f *Flow, a *store.Account, code string, c Client, action string) (*store.PhoneCode, *attempt, error) {
	code = mfa.NormalizeCode(code)
	if code == "" {
		return nil, nil, ErrCodeFormat
	}
	// A closed step refuses before the code's own tries are spent.
	if mfa.Locked(a.MFALockedUntil, s.Now()) {
		s.audit(ctx, a.ID, action, "refused", c, "")
		return nil, nil, &LockedError{Until: a.MFALockedUntil}
	}
	pc, err := s.Store.ChargePhoneCode(ctx, f.IDHash, s.Config.Phone.CodeAttempts)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, ErrNoPhoneCode
	case errors.Is(err, store.ErrLocked):
		s.audit(ctx, a.ID, action, "exhausted", c, "")
		return nil, nil, ErrPhoneCodeExhausted
	case err != nil:
		return nil, nil, err
	}
	charged, err := s.charge(ctx, a, c, action, s.wrongCodesOf(pc.Phone, f.State == StateMFA))
	if err != nil {
		return nil, nil, err
	}
	if !s.Now().Before(pc.ExpiresAt) {
		// An expired code is a wrong answer too; when it closes the step,
		// that is what the customer must hear.
		if err := s.wrong(ctx, charged, c, action); !errors.Is(err, ErrWrongCode) {
			return nil, nil, err
		}
		return nil, nil, ErrPhoneCodeExpired
	}
	if !s.Keys.Verify(pc.CodeHash, "phone code", f.IDHash, code) {
		if pc.PreviousHash != "" && s.Keys.Verify(pc.PreviousHash, "phone code", f.IDHash, code) {
			// A text that came late, after the resend the customer asked
			// for while waiting.
			return nil, nil, s.wrongBecause(ctx, charged, c, action, ErrPhoneCodeReplaced)
		}
		return nil, nil, s.wrong(ctx, charged, c, action)
	}
	if err := s.Store.DeletePhoneCode(ctx, f.IDHash); err != nil {
		return nil, nil, err
	}
	return pc, charged, nil
}

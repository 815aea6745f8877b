package portal

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/tobira/tobira/internal/store"
)

// ErrEraseReason says an erasure needs a reason of at most 200 characters.
var ErrEraseReason = errors.New("portal: an erasure needs its reason, at most 200 characters")

// EraseAccount erases the account at the operator's hand, for a customer
// who left or asked for their data to be erased (APPI): what identifies the
// customer and lets them sign in goes, in one commit with its audit event
// (store.Accounts.EraseAccount); the account's id stays with what the
// business keeps under it. The sites of its grants are logged out after
// the commit. store.ErrNotFound for an unknown or erased account.
func (s *Service) EraseAccount(ctx context.Context, accountID, actor, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 200 {
		return ErrEraseReason
	}
	ev := &store.AuditEvent{At: s.Now(), AccountID: accountID, Actor: actor, Action: store.ActionAccountErase, Outcome: "ok", Detail: reason}
	stamp(ctx, ev)
	grants, err := s.Store.EraseAccount(ctx, accountID, ev)
	if err != nil {
		return err
	}
	s.counted(ctx, ev)
	s.grantsEnded(ctx, grants)
	return nil
}

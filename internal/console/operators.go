package console

import (
	"context"
	"errors"
	"fmt"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// ErrBadRole means a role other than support or admin.
var ErrBadRole = errors.New("console: role must be support or admin")

// ErrOperatorTaken means another operator has the address.
var ErrOperatorTaken = errors.New("console: email address already has an operator")

// totpAD binds an operator's encrypted seed to the operator.
func totpAD(operatorID string) string { return "operator-totp:" + operatorID }

// NewOperator is an operator just created, with what its owner must put in
// an authenticator app: the seed and its otpauth:// URI. Neither is kept in
// the clear.
type NewOperator struct {
	Operator   *store.Operator
	TOTPSecret string
	TOTPURI    string
}

// CreateOperator checks and stores a new operator with a password and a new
// TOTP seed, encrypted with the keyring, and records it in the audit log as
// done by who.
func CreateOperator(ctx context.Context, svc *portal.Service, ops store.Operators, email, name string, role store.OperatorRole, password, who string) (*NewOperator, error) {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if name, err = account.CheckName(name); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, ErrBadRole
	}
	if err := account.CheckPassword(password, norm); err != nil {
		return nil, err
	}
	hash, err := svc.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	id := secret.ID()
	seed := mfa.NewTOTPSecret()
	op := &store.Operator{ID: id, Email: norm, Name: name, Role: role, PasswordHash: hash,
		TOTPSecret: svc.Keys.Encrypt(seed, totpAD(id)), CreatedAt: svc.Now()}
	if err := ops.CreateOperator(ctx, op); errors.Is(err, store.ErrConflict) {
		return nil, ErrOperatorTaken
	} else if err != nil {
		return nil, err
	}
	if err := svc.Store.AppendAudit(ctx, &store.AuditEvent{At: svc.Now(), Actor: who, Action: "operator.create",
		Outcome: "ok", Detail: fmt.Sprintf("%s (%s)", norm, role)}); err != nil {
		svc.Log.Error("console: audit append failed", "action", "operator.create", "err", err)
	}
	return &NewOperator{Operator: op, TOTPSecret: seed, TOTPURI: mfa.TOTPURI(svc.Config.Issuer+" console", norm, seed)}, nil
}

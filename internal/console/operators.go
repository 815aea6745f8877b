package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

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
	// Password is the one-time password AddOperator made, empty otherwise.
	Password string
}

// CreateOperator checks and stores a new operator with a password and a new
// TOTP seed, encrypted with the keyring, and records it in the audit log as
// done by who.
func CreateOperator(ctx context.Context, svc *portal.Service, ops store.Operators, email, name string, role store.OperatorRole, password, who string) (*NewOperator, error) {
	return createOperator(ctx, svc, ops, email, name, role, password, who, time.Time{})
}

// AddOperator is CreateOperator for an admin in the console: the operator
// gets a one-time password (NewOperator.Password), shown to the admin once
// with the authenticator key, which the console asks the operator to
// replace with their own at their first sign-in.
func AddOperator(ctx context.Context, svc *portal.Service, ops store.Operators, email, name string, role store.OperatorRole, who string) (*NewOperator, error) {
	password := OneTimePassword()
	n, err := createOperator(ctx, svc, ops, email, name, role, password, who, svc.Now().Add(OneTimePasswordTTL))
	if err != nil {
		return nil, err
	}
	n.Password = password
	return n, nil
}

func createOperator(ctx context.Context, svc *portal.Service, ops store.Operators, email, name string, role store.OperatorRole, password, who string, oneTimeUntil time.Time) (*NewOperator, error) {
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
		TOTPSecret: svc.Keys.Encrypt(seed, totpAD(id)), CreatedAt: svc.Now(), OneTimeUntil: oneTimeUntil}
	if err := ops.CreateOperator(ctx, op); errors.Is(err, store.ErrConflict) {
		return nil, ErrOperatorTaken
	} else if err != nil {
		return nil, err
	}
	auditOperator(ctx, svc, who, store.ActionOperatorCreate, fmt.Sprintf("%s (%s)", norm, role))
	return &NewOperator{Operator: op, TOTPSecret: seed, TOTPURI: totpURI(svc, norm, seed)}, nil
}

// ErrOperatorDisabled means the operator is disabled already.
var ErrOperatorDisabled = errors.New("console: operator is disabled already")

// ErrOperatorEnabled means the operator is not disabled.
var ErrOperatorEnabled = errors.New("console: operator is not disabled")

// DisableOperator stops the operator with the address from signing in and
// ends their console sessions at once, for staff who leave; who is recorded
// in the audit log. store.ErrNotFound when no operator has the address,
// ErrOperatorDisabled when it is disabled already.
func DisableOperator(ctx context.Context, svc *portal.Service, ops store.Operators, email, who string) (*store.Operator, error) {
	return setOperatorDisabled(ctx, svc, ops, email, who, true)
}

// EnableOperator lets a disabled operator sign in again, with the password
// and authenticator they had. store.ErrNotFound when no operator has the
// address, ErrOperatorEnabled when it is not disabled.
func EnableOperator(ctx context.Context, svc *portal.Service, ops store.Operators, email, who string) (*store.Operator, error) {
	return setOperatorDisabled(ctx, svc, ops, email, who, false)
}

func setOperatorDisabled(ctx context.Context, svc *portal.Service, ops store.Operators, email, who string, disabled bool) (*store.Operator, error) {
	op, err := operatorByEmail(ctx, ops, email)
	if err != nil {
		return nil, err
	}
	action := store.ActionOperatorEnable
	if disabled {
		action = store.ActionOperatorDisable
	}
	switch {
	case op.Disabled && disabled:
		return op, ErrOperatorDisabled
	case !op.Disabled && !disabled:
		return op, ErrOperatorEnabled
	}
	// Another command may have changed the flag since the read; setting
	// it again is harmless, and disabling ends the sessions either way.
	if err := ops.SetOperatorDisabled(ctx, op.ID, disabled); err != nil {
		return nil, err
	}
	op.Disabled = disabled
	auditOperator(ctx, svc, who, action, op.Email)
	return op, nil
}

// ResetOperatorTOTP gives the operator with the address a new TOTP seed, for
// one who lost their authenticator: the old seed stops working, the step and
// the wrong-code count start again, and their console sessions end. The new
// seed is returned once, as CreateOperator returns it. store.ErrNotFound
// when no operator has the address.
func ResetOperatorTOTP(ctx context.Context, svc *portal.Service, ops store.Operators, email, who string) (*NewOperator, error) {
	op, err := operatorByEmail(ctx, ops, email)
	if err != nil {
		return nil, err
	}
	seed := mfa.NewTOTPSecret()
	sealed := svc.Keys.Encrypt(seed, totpAD(op.ID))
	if err := ops.ResetOperatorTOTP(ctx, op.ID, sealed); err != nil {
		return nil, err
	}
	op.TOTPSecret, op.LastStep, op.MFAFailures, op.MFALockedUntil = sealed, 0, 0, time.Time{}
	auditOperator(ctx, svc, who, store.ActionOperatorReset2FA, op.Email)
	return &NewOperator{Operator: op, TOTPSecret: seed, TOTPURI: totpURI(svc, op.Email, seed)}, nil
}

// SetOperatorPassword gives the operator with the address a new password
// and ends their console sessions, for one who forgot theirs. An empty
// password makes a one-time one, returned for an admin to hand over, which
// the console asks the operator to replace at their next sign-in.
// store.ErrNotFound when no operator has the address; the account rules'
// errors for a password that breaks them.
func SetOperatorPassword(ctx context.Context, svc *portal.Service, ops store.Operators, email, password, who string) (op *store.Operator, oneTime string, err error) {
	op, err = operatorByEmail(ctx, ops, email)
	if err != nil {
		return nil, "", err
	}
	var until time.Time
	if password == "" {
		password, until = OneTimePassword(), svc.Now().Add(OneTimePasswordTTL)
	} else if err := account.CheckPassword(password, op.Email); err != nil {
		return nil, "", err
	}
	hash, err := svc.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, "", err
	}
	if err := ops.SetOperatorPassword(ctx, op.ID, hash, until, ""); err != nil {
		return nil, "", err
	}
	op.PasswordHash, op.OneTimeUntil = hash, until
	auditOperator(ctx, svc, who, store.ActionOperatorResetPassword, op.Email)
	if op.MustChangePassword() {
		return op, password, nil
	}
	return op, "", nil
}

// OneTimePasswordTTL is how long a one-time password signs in: time to
// hand it over and for the first sign-in, not a standing second password.
const OneTimePasswordTTL = 72 * time.Hour

// oneTimeAlphabet leaves out characters read one for another (0 O o, 1 l I).
const oneTimeAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// OneTimePassword is a password an admin hands over and its operator
// replaces at once: four groups of four characters from oneTimeAlphabet,
// about 92 bits, easy to read out and to type.
func OneTimePassword() string {
	var b strings.Builder
	for i := range 16 {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(oneTimeAlphabet))))
		if err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		b.WriteByte(oneTimeAlphabet[n.Int64()])
	}
	return b.String()
}

// operatorByEmail normalises email as CreateOperator does and returns its
// operator.
func operatorByEmail(ctx context.Context, ops store.Operators, email string) (*store.Operator, error) {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	return ops.OperatorByEmail(ctx, norm)
}

// totpURI is the otpauth:// URI of an operator's seed, for the app to scan.
func totpURI(svc *portal.Service, email, seed string) string {
	return mfa.TOTPURI(svc.Config.Issuer+" console", email, seed)
}

// auditOperator records a change to an operator (portal.Service.Record: a
// failed append is logged, since the change is made by then).
func auditOperator(ctx context.Context, svc *portal.Service, who, action, detail string) {
	svc.Record(ctx, &store.AuditEvent{Actor: who, Action: action, Outcome: "ok", Detail: detail})
}
